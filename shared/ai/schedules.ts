import { z } from '@hono/zod-openapi'
import { createConversation } from '../chat/service.ts'
import type { ServiceContext, Tx } from '../core/context.ts'
import { DomainError, NotFoundError, PreconditionFailedError, ValidationError } from '../core/errors.ts'
import { page, readCursor } from '../core/pages.ts'
import { columnsOf, TimestampSchema } from '../core/schemas.ts'
import { defineVerb } from '../core/verb.ts'
import { columnValues, givenColumns, jsonParam } from '../db/columns.ts'
import { withUser, withUserStatement } from '../db/with-user.ts'
import { agentForRun } from './agents.ts'
import { type BroadcastTransport, RunBroadcaster } from './broadcast.ts'
import { COORDINATOR_ID } from './crew.ts'
import { isTimeZone, nextOccurrence } from './cron.ts'
import { executeRun, inBackground } from './engine.ts'
import { loadRunLimits } from './limits.ts'
import { resolveModels } from './models.ts'
import { failRun, type StartedRun, startRun } from './runs.ts'
import {
  type Schedule,
  ScheduleChangeSchema,
  ScheduleCreateSchema,
  ScheduleIdInputSchema,
  type ScheduleKind,
  ScheduleListQuerySchema,
  ScheduleSchema,
  ScheduleVersionSchema,
} from './schedule-schemas.ts'
import type { Run } from './schemas.ts'
import { realtimeSink } from './sinks.ts'

// Scheduled check-ins (docs/adr/0031-scheduled-check-ins.md): the verbs a user calls (list, get,
// create, update, delete, run now) and starting a schedule's run, as its owner under their RLS.
// The due check that starts runs when schedules come due is in due-schedules.ts.

const SCHEDULE_COLUMNS = columnsOf(ScheduleSchema)

export const scheduleNotFound = () => new NotFoundError('No such schedule')

/** What a preset asks, of whom, when; a custom schedule brings its own prompt and cron. */
export const PRESETS: Record<
  ScheduleKind,
  { title: string; agentId: string; cron: string | null; prompt: string | null }
> = {
  daily_plan: {
    title: 'Daily plan',
    agentId: 'planner',
    cron: '0 7 * * *',
    prompt:
      'Good morning! Plan my day: look at my open tasks (overdue, due today and soon) and my active goals, ' +
      'choose what matters most today, and give me a short, realistic plan in order. Say what should move to ' +
      'another day and why; change nothing without telling me.',
  },
  weekly_review: {
    title: 'Weekly review',
    agentId: COORDINATOR_ID,
    cron: '0 18 * * 0',
    prompt:
      'Time for my weekly review. Go over the past week: what I finished, what slipped or is overdue, and ' +
      'how my active goals moved. Then suggest the three most important things for next week, and ask me ' +
      'one or two questions to reflect on.',
  },
  custom: { title: 'Scheduled check-in', agentId: COORDINATOR_ID, cron: null, prompt: null },
}

/** What the schedule asks each time: its own prompt, or its preset's. */
export const promptOf = (schedule: Pick<Schedule, 'kind' | 'prompt'>): string =>
  schedule.prompt ?? PRESETS[schedule.kind].prompt ?? ''

interface Preferences {
  timezone?: unknown
  time_zone?: unknown
}

/** The time zone a schedule is read in: its own, else the user's preference, else UTC. */
export function effectiveTimeZone(own: string | null, preferences: Preferences | null | undefined): string {
  if (own && isTimeZone(own)) return own
  const preferred = preferences?.timezone ?? preferences?.time_zone
  return typeof preferred === 'string' && isTimeZone(preferred) ? preferred : 'UTC'
}

async function preferencesOf(tx: Tx, userId: string): Promise<Preferences | null> {
  const [profile] = await tx<{ preferences: Preferences | null }[]>`
    select preferences from public.profiles where id = ${userId}`
  return profile?.preferences ?? null
}

/** When an enabled schedule is next due, and the zone that was worked out in; nothing while disabled. */
function dueTime(
  cron: string,
  zone: string,
  enabled: boolean,
  after: Date,
): { next_run_at: string | null; next_run_time_zone: string | null } {
  if (!enabled) return { next_run_at: null, next_run_time_zone: null }
  const next = nextOccurrence(cron, zone, after)
  if (!next) throw new ValidationError([{ path: 'cron', message: 'The cron expression never comes round' }])
  return { next_run_at: next.toISOString(), next_run_time_zone: zone }
}

/** The agent must be one the user has, and on: else a 422 naming agent_id, and nothing is stored. */
async function checkAgent(ctx: ServiceContext, tx: Tx, agentId: string): Promise<void> {
  try {
    await agentForRun(ctx, tx, agentId)
  } catch (error) {
    if (error instanceof DomainError && (error.code === 'not_found' || error.code === 'conflict')) {
      throw new ValidationError([{ path: 'agent_id', message: error.message }])
    }
    throw error
  }
}

/** A chosen conversation must be one of the user's (RLS): else a 422 naming conversation_id. */
async function checkConversation(tx: Tx, conversationId: string): Promise<void> {
  const [row] = await tx`select 1 from public.conversations where id = ${conversationId}`
  if (!row) throw new ValidationError([{ path: 'conversation_id', message: 'No such conversation' }])
}

const stale = () => new PreconditionFailedError('The schedule has changed since it was read (If-Match)')

const versionMatches = (row: { updated_at: string }, expected: string[] | undefined) =>
  expected === undefined || expected.includes(row.updated_at)

/** Schedules list oldest first: after (created_at, id). */
const ListPosition = z.tuple([TimestampSchema, z.uuid()])

export const listSchedules = defineVerb('schedules.list', ScheduleListQuerySchema, async ({ ctx, input }) => {
  const after = readCursor(input.cursor, ListPosition)
  const rows = await withUserStatement(
    ctx,
    (tx) => tx<Schedule[]>`
      select ${tx(SCHEDULE_COLUMNS)} from public.schedules
      where user_id = ${ctx.userId}
        ${input.kind ? tx`and kind = ${input.kind}` : tx``}
        ${input.enabled === undefined ? tx`` : tx`and enabled = ${input.enabled}`}
        ${after ? tx`and (created_at, id) > (${after[0]}::timestamptz, ${after[1]}::uuid)` : tx``}
      order by created_at, id
      limit ${input.limit + 1}`,
    ctx.tx,
  )
  return page(rows, input.limit, (row) => [row.created_at, row.id])
})

export const getSchedule = defineVerb('schedules.get', ScheduleIdInputSchema, async ({ ctx, input }) => {
  const [row] = await withUserStatement(
    ctx,
    (tx) => tx<Schedule[]>`select ${tx(SCHEDULE_COLUMNS)} from public.schedules where id = ${input.id}`,
    ctx.tx,
  )
  if (!row) throw scheduleNotFound()
  return row
})

/**
 * Schedules an agent. A preset fills in what is not given (its agent, cron and prompt); the cron is
 * read in the schedule's time zone, else the user's. An unknown or disabled agent, or a
 * conversation that is not the user's, is a 422 and nothing is stored.
 */
export const createSchedule = defineVerb('schedules.create', ScheduleCreateSchema, async ({ ctx, input }) =>
  withUser(
    ctx,
    async (tx) => {
      const preset = PRESETS[input.kind]
      const agentId = input.agent_id ?? preset.agentId
      const cron = (input.cron ?? preset.cron) as string
      await checkAgent(ctx, tx, agentId)
      if (input.conversation_id) await checkConversation(tx, input.conversation_id)
      const zone = effectiveTimeZone(input.time_zone, await preferencesOf(tx, ctx.userId))
      const due = dueTime(cron, zone, input.enabled, new Date())
      const [row] = await tx<Schedule[]>`
        insert into public.schedules (user_id, kind, agent_id, prompt, cron, time_zone, conversation_id, enabled,
                                      next_run_at, next_run_time_zone)
        values (${ctx.userId}, ${input.kind}, ${agentId}, ${input.prompt}, ${cron}, ${input.time_zone},
                ${input.conversation_id}, ${input.enabled}, ${due.next_run_at}, ${due.next_run_time_zone})
        returning ${tx(SCHEDULE_COLUMNS)}`
      return row
    },
    ctx.tx,
  ),
)

/**
 * Changes the fields given, conditional on If-Match. A change of the cron, the time zone or whether
 * it is enabled works out when it is next due anew, from now; the schedule as it then is must hold
 * (a custom one keeps a prompt).
 */
export const updateSchedule = defineVerb('schedules.update', ScheduleChangeSchema, async ({ ctx, input }) =>
  withUser(
    ctx,
    async (tx) => {
      const { id, changes, expected } = input
      const [current] = await tx<Schedule[]>`
        select ${tx(SCHEDULE_COLUMNS)} from public.schedules where id = ${id} for update`
      if (!current) throw scheduleNotFound()
      if (!versionMatches(current, expected)) throw stale()
      const columns = givenColumns(changes)
      if (columns.length === 0) return current
      const merged = {
        ...current,
        ...Object.fromEntries(columns.map((column) => [column, changes[column as keyof typeof changes]])),
      } as Schedule
      if (merged.kind === 'custom' && merged.prompt === null) {
        throw new ValidationError([{ path: 'prompt', message: 'A custom schedule needs a prompt' }])
      }
      if (changes.agent_id !== undefined) await checkAgent(ctx, tx, changes.agent_id)
      if (changes.conversation_id) await checkConversation(tx, changes.conversation_id)
      const values = columnValues(tx, changes)
      if (['cron', 'time_zone', 'enabled'].some((column) => columns.includes(column))) {
        const zone = effectiveTimeZone(merged.time_zone, await preferencesOf(tx, ctx.userId))
        Object.assign(values, dueTime(merged.cron, zone, merged.enabled, new Date()))
      }
      const [row] = await tx<Schedule[]>`
        update public.schedules set ${tx(values, Object.keys(values))} where id = ${id}
        returning ${tx(SCHEDULE_COLUMNS)}`
      return row
    },
    ctx.tx,
  ),
)

/** Deletes the schedule, conditional on If-Match; its runs and conversation stay. */
export const deleteSchedule = defineVerb(
  'schedules.delete',
  ScheduleVersionSchema,
  async ({ ctx, input }) => {
    await withUser(
      ctx,
      async (tx) => {
        const [current] = await tx<{ updated_at: string }[]>`
        select updated_at from public.schedules where id = ${input.id} for update`
        if (!current) throw scheduleNotFound()
        if (!versionMatches(current, input.expected)) throw stale()
        await tx`delete from public.schedules where id = ${input.id}`
      },
      ctx.tx,
    )
  },
)

export interface StartedScheduleRun extends StartedRun {
  schedule: Schedule
}

/**
 * Starts the schedule's run, as whoever `ctx` is (the owner, with their token or a schedule grant),
 * in one transaction: the schedule's own conversation on its first run, the prompt as the user's
 * message and a queued run (the user's run limits apply: 429), and the schedule's last run. A
 * refusal (409 for a disabled agent, 404 for one deleted, 429) stores nothing. Undefined when the
 * user has no such schedule (any more).
 */
export async function startScheduledRun(
  ctx: ServiceContext,
  scheduleId: string,
): Promise<StartedScheduleRun | undefined> {
  return withUser(ctx, async (tx) => {
    const [schedule] = await tx<Schedule[]>`
      select ${tx(SCHEDULE_COLUMNS)} from public.schedules where id = ${scheduleId} for update`
    if (!schedule) return undefined
    let conversationId = schedule.conversation_id
    if (!conversationId) {
      const conversation = await createConversation.trusted({
        ctx: { ...ctx, tx },
        input: { title: PRESETS[schedule.kind].title, metadata: { schedule_id: schedule.id } },
      })
      conversationId = conversation.id
    }
    const started = await startRun.trusted({
      ctx: { ...ctx, tx },
      input: {
        conversation_id: conversationId,
        agent_id: schedule.agent_id,
        content: promptOf(schedule),
        metadata: { schedule_id: schedule.id, schedule_kind: schedule.kind },
      },
    })
    const [updated] = await tx<Schedule[]>`
      update public.schedules
      set conversation_id = ${conversationId}, last_run_id = ${started.run.id}, last_run_at = now(), last_error = null
      where id = ${schedule.id}
      returning ${tx(SCHEDULE_COLUMNS)}`
    return { ...started, schedule: updated }
  })
}

/** Records why a due time of the schedule started no run (as its owner). */
export async function recordScheduleError(
  ctx: ServiceContext,
  scheduleId: string,
  error: { code: string; message: string },
): Promise<void> {
  await withUserStatement(
    ctx,
    (tx) => tx`update public.schedules set last_error = ${jsonParam(tx, error)} where id = ${scheduleId}`,
  )
}

/** Why no model can answer for this agent now (nothing configured), or undefined. */
function providerProblem(model: string | null): DomainError | undefined {
  try {
    resolveModels(model ?? undefined)
    return undefined
  } catch (error) {
    if (error instanceof DomainError) return error
    throw error
  }
}

/**
 * Works a started run in the background, its output on the conversation's channel through
 * `transport`. With no provider configured the run fails at once, visibly: `provider_unavailable`
 * on the run and a `run_failed` broadcast. Answers the run as it now is.
 */
export async function launchRun(
  ctx: ServiceContext,
  { run, agent }: Pick<StartedRun, 'run' | 'agent'>,
  transport: BroadcastTransport,
): Promise<Run> {
  const broadcaster = new RunBroadcaster(
    run.conversation_id,
    run.id,
    transport,
    loadRunLimits().tokenIntervalMs,
  )
  const realtime = realtimeSink(broadcaster)
  const unavailable = providerProblem(agent.model)
  if (unavailable) {
    const error = { code: unavailable.code, message: unavailable.message }
    const failed = await failRun(ctx, run.id, error)
    realtime.failed(error)
    await broadcaster.settled()
    return failed ?? run
  }
  inBackground(executeRun({ ctx, run, agent, sink: realtime }).then(() => broadcaster.settled()))
  return run
}
