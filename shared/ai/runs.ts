import { z } from '@hono/zod-openapi'
import { createMessage, recordAgentMessage } from '../chat/service.ts'
import type { Message } from '../chat/schemas.ts'
import { DEFAULT_APPROVAL_TTL_SECONDS, loadAiConfig } from '../config.ts'
import { agentContext, type ServiceContext, type Tx } from '../core/context.ts'
import { ConflictError, NotFoundError, RateLimitedError } from '../core/errors.ts'
import { page, readCursor } from '../core/pages.ts'
import { columnsOf, TimestampSchema } from '../core/schemas.ts'
import { defineVerb } from '../core/verb.ts'
import { jsonParam } from '../db/columns.ts'
import { withUser, withUserStatement } from '../db/with-user.ts'
import { agentForRun } from './agents.ts'
import { COORDINATOR_ID } from './crew.ts'
import { loadRunLimits } from './limits.ts'
import { runActions } from './trace.ts'
import {
  type Agent,
  type Approval,
  ApprovalSchema,
  type Run,
  RunCreateSchema,
  RunIdInputSchema,
  RunListQuerySchema,
  RunSchema,
  type RunStep,
  RunStepSchema,
} from './schemas.ts'

// Runs are records (ADR 0019, 0024): one per answer an agent works on. The request that starts one
// stores the user's message and the run in one short transaction; the work itself (model calls,
// tools) happens after it, each write in a transaction of its own, never one held across a model call.

export const RUN_COLUMNS = columnsOf(RunSchema)
const STEP_COLUMNS = columnsOf(RunStepSchema)
const APPROVAL_COLUMNS = columnsOf(ApprovalSchema).filter((column) => column !== 'action_id')

export const runNotFound = () => new NotFoundError('No such run')

/** Postgres's CS429 from private.check_run_limits, with its own message and wait. */
function runLimitError(error: unknown): RateLimitedError | undefined {
  const { code, message, detail } = (error ?? {}) as { code?: unknown; message?: string; detail?: string }
  if (code !== 'CS429' || !message?.startsWith('At most')) return undefined
  const seconds = Number(detail)
  return new RateLimitedError(message, Number.isFinite(seconds) ? seconds : 60)
}

/** AI_APPROVAL_TTL_SECONDS: how long a run may wait for approval. */
export const approvalTtlSeconds = () => loadAiConfig().approvalTtlSeconds ?? DEFAULT_APPROVAL_TTL_SECONDS

/**
 * Cancels the user's runs that have waited for approval longer than AI_APPROVAL_TTL_SECONDS
 * (`approval_expired`), deleting what they had kept first, so nothing they proposed can run. Done
 * wherever such a run may be found: starting a run, reading runs, deciding an approval.
 */
export async function expireApprovals(tx: Tx, userId: string): Promise<void> {
  const ttl = approvalTtlSeconds()
  await tx`
    with expired as (
      delete from public.agent_run_pauses
      where user_id = ${userId} and created_at < now() - make_interval(secs => ${ttl})
      returning run_id
    )
    update public.agent_runs r
    set status = 'cancelled', finished_at = now(),
        error = jsonb_build_object('code', 'approval_expired',
          'message', ${`The run waited for approval longer than ${ttl} seconds; nothing it proposed was done`}::text)
    from expired e
    where r.user_id = ${userId} and r.id = e.run_id and r.status = 'awaiting_approval'`
}

export interface StartedRun {
  run: Run
  message: Message
  agent: Agent
}

/**
 * Stores the user's message and a queued run answering it, after the user's run limits (at most
 * AI_MAX_CONCURRENT_RUNS at once, AI_RUNS_PER_MINUTE a minute: 429). An unknown agent is a 404, a
 * disabled one a 409, another user's conversation a 404; then nothing is stored.
 */
export const startRun = defineVerb('runs.start', RunCreateSchema, async ({ ctx, input }) => {
  const limits = loadRunLimits()
  try {
    return await withUser(
      ctx,
      async (tx): Promise<StartedRun> => {
        await expireApprovals(tx, ctx.userId)
        await tx`select private.check_run_limits(${limits.maxActiveRuns}, ${limits.runsPerMinute},
                   ${`${limits.staleAfterSeconds} seconds`}::interval)`
        const agent = await agentForRun(ctx, tx, input.agent_id ?? COORDINATOR_ID)
        const message = input.message_id
          ? await storedMessage(tx, input.conversation_id, input.message_id)
          : await createMessage.trusted({
              ctx: { ...ctx, tx },
              input: {
                conversation_id: input.conversation_id,
                content: input.content as string,
                role: 'user',
                agent_id: input.agent_id,
                metadata: input.metadata,
              },
            })
        const [run] = await tx<Run[]>`
          insert into public.agent_runs (user_id, conversation_id, trigger_message_id, agent_id)
          values (${ctx.userId}, ${input.conversation_id}, ${message.id}, ${agent.id})
          returning ${tx(RUN_COLUMNS)}`
        return { run, message, agent }
      },
      ctx.tx,
    )
  } catch (error) {
    throw runLimitError(error) ?? error
  }
})

/** A user message already stored (the chat function's hand-off), not yet answered by a run. */
async function storedMessage(tx: Tx, conversationId: string, messageId: string): Promise<Message> {
  const [message] = await tx<(Message & { answered: boolean })[]>`
    select m.id, m.user_id, m.conversation_id, m.role, m.content, coalesce(m.agent_id, m.addressee) as agent_id,
           m.metadata, m.created_at, m.updated_at,
           exists (select 1 from public.agent_runs r
                   where r.user_id = m.user_id and r.conversation_id = m.conversation_id
                     and r.trigger_message_id = m.id) as answered
    from public.messages m
    where m.id = ${messageId} and m.conversation_id = ${conversationId} and m.role = 'user'`
  if (!message) throw new NotFoundError('No such user message in this conversation')
  if (message.answered) throw new ConflictError('A run already answers this message')
  const { answered: _answered, ...row } = message
  return row
}

/** Runs list newest first: after (created_at, id), descending. */
const ListPosition = z.tuple([TimestampSchema, z.uuid()])

export const listRuns = defineVerb('runs.list', RunListQuerySchema, async ({ ctx, input }) => {
  const after = readCursor(input.cursor, ListPosition)
  const rows = await withUser(
    ctx,
    async (tx) => {
      await expireApprovals(tx, ctx.userId)
      return tx<Run[]>`
        select ${tx(RUN_COLUMNS)} from public.agent_runs
        where user_id = ${ctx.userId}
          ${input.conversation_id ? tx`and conversation_id = ${input.conversation_id}` : tx``}
          ${input.status ? tx`and status = any(${input.status}::public.run_status[])` : tx``}
          ${after ? tx`and (created_at, id) < (${after[0]}::timestamptz, ${after[1]}::uuid)` : tx``}
        order by created_at desc, id desc
        limit ${input.limit + 1}`
    },
    ctx.tx,
  )
  return page(rows, input.limit, (row) => [row.created_at, row.id])
})

/**
 * A run with its steps in order, the changes it proposed for approval (and when a wait expires),
 * and the changes its agents made (its trace).
 */
export const getRun = defineVerb('runs.get', RunIdInputSchema, async ({ ctx, input }) =>
  withUser(
    ctx,
    async (tx) => {
      await expireApprovals(tx, ctx.userId)
      const [run] = await tx<Run[]>`select ${tx(RUN_COLUMNS)} from public.agent_runs where id = ${input.id}`
      if (!run) throw runNotFound()
      const steps = await tx<RunStep[]>`
        select ${tx(STEP_COLUMNS)} from public.agent_run_steps
        where user_id = ${ctx.userId} and run_id = ${input.id} order by position`
      const approvals = await tx<Approval[]>`
        select id as action_id, ${tx(APPROVAL_COLUMNS)} from public.agent_run_approvals
        where user_id = ${ctx.userId} and run_id = ${input.id} order by position`
      const [pause] = await tx<{ expires_at: string }[]>`
        select created_at + make_interval(secs => ${approvalTtlSeconds()}) as expires_at
        from public.agent_run_pauses where user_id = ${ctx.userId} and run_id = ${input.id}`
      const actions = await runActions(tx, ctx.userId, input.id)
      return { ...run, steps, approvals, approval_expires_at: pause?.expires_at ?? null, actions }
    },
    ctx.tx,
  ),
)

/** Runs working in this function instance, by id: cancelling one stops its provider stream at once. */
const working = new Map<string, AbortController>()

/** Registers a run's controller while it works here; the returned function forgets it. */
export function workingHere(runId: string, controller: AbortController): () => void {
  working.set(runId, controller)
  return () => {
    if (working.get(runId) === controller) working.delete(runId)
  }
}

export class RunCancelled extends Error {
  constructor() {
    super('The run was cancelled')
    this.name = 'RunCancelled'
  }
}

/**
 * Cancels a queued, running or waiting run: it is marked cancelled now (a waiting one's kept state is
 * deleted, so nothing it proposed runs); the instance working on it stops the
 * provider's stream and its tools (at once if it is this one, else at its next heartbeat) and keeps
 * the partial answer, marked. Cancelling a cancelled run again answers it as it is; one that has
 * finished otherwise is a 409.
 */
export const cancelRun = defineVerb('runs.cancel', RunIdInputSchema, async ({ ctx, input }) => {
  const run = await withUser(
    ctx,
    async (tx) => {
      const [cancelled] = await tx<Run[]>`
        update public.agent_runs set status = 'cancelled', finished_at = now()
        where id = ${input.id} and status in ('queued', 'running', 'awaiting_approval')
        returning ${tx(RUN_COLUMNS)}`
      // A run waiting for approval keeps nothing to resume: what it proposed never runs.
      if (cancelled) {
        await tx`delete from public.agent_run_pauses where user_id = ${ctx.userId} and run_id = ${input.id}`
        return cancelled
      }
      const [current] = await tx<
        Run[]
      >`select ${tx(RUN_COLUMNS)} from public.agent_runs where id = ${input.id}`
      if (!current) throw runNotFound()
      if (current.status !== 'cancelled') throw new ConflictError(`The run has already ${current.status}`)
      return current
    },
    ctx.tx,
  )
  working.get(run.id)?.abort(new RunCancelled())
  return run
})

// What the work on a run writes, as the user (never the service role), each in a short transaction.

/** queued → running with the model it starts on; false if the run was cancelled before it started. */
export async function markRunning(
  ctx: ServiceContext,
  runId: string,
  model: string | null,
  joined?: Tx,
): Promise<boolean> {
  const rows = await withUserStatement(
    ctx,
    (tx) => tx`
      update public.agent_runs set status = 'running', started_at = now(), model = ${model}
      where id = ${runId} and status = 'queued' returning 1`,
    joined,
  )
  return rows.length === 1
}

/** Moves the run's row (it is alive); false once it is no longer running (cancelled elsewhere). */
export async function heartbeat(ctx: ServiceContext, runId: string): Promise<boolean> {
  const rows = await withUserStatement(
    ctx,
    (tx) =>
      tx`update public.agent_runs set updated_at = now() where id = ${runId} and status = 'running' returning 1`,
  )
  return rows.length === 1
}

export interface StepRecord {
  /** Given when the step's id must be known first: a proposed change's action id, or a tool call's, under which its changes are traced. */
  id?: string
  position: number
  kind: RunStep['kind']
  name: string
  agentId: string
  input?: Record<string, unknown>
  output?: Record<string, unknown>
  error?: { code: string; message: string } | null
  usage?: Record<string, unknown> | null
  startedAt: Date
  finishedAt: Date
}

const MAX_STEP_JSON = 60 * 1024

/** A step's JSON within the table's limit: too large a value is kept as the start of its text. */
export function bounded(value: Record<string, unknown> | undefined): Record<string, unknown> {
  const text = JSON.stringify(value ?? {})
  if (new TextEncoder().encode(text).length <= MAX_STEP_JSON) return value ?? {}
  return { truncated: true, text: text.slice(0, MAX_STEP_JSON / 4) }
}

export async function insertStep(tx: Tx, userId: string, runId: string, step: StepRecord): Promise<void> {
  await tx`
    insert into public.agent_run_steps (id, user_id, run_id, position, kind, name, agent_id, input, output, error,
                                        usage, started_at, finished_at)
    values (coalesce(${step.id ?? null}::uuid, gen_random_uuid()), ${userId}, ${runId}, ${step.position}, ${step.kind}, ${step.name.slice(0, 200)}, ${step.agentId},
            ${jsonParam(tx, bounded(step.input))}, ${jsonParam(tx, bounded(step.output))},
            ${step.error ? jsonParam(tx, step.error) : null}, ${step.usage ? jsonParam(tx, step.usage) : null},
            ${step.startedAt.toISOString()}, ${step.finishedAt.toISOString()})`
}

/** Records a step in a transaction of its own (and the tool message, if any, in the same one). */
export async function recordStep(
  ctx: ServiceContext,
  runId: string,
  step: StepRecord,
  toolMessage?: { conversationId: string; content: string; metadata: Record<string, unknown> },
): Promise<void> {
  await withUser(ctx, async (tx) => {
    await insertStep(tx, ctx.userId, runId, step)
    if (toolMessage) {
      await recordAgentMessage.trusted({
        ctx: { ...agentActor(ctx, runId, step.agentId), tx },
        input: {
          conversation_id: toolMessage.conversationId,
          role: 'tool',
          content: toolMessage.content,
          metadata: toolMessage.metadata,
        },
      })
    }
  })
}

/**
 * What a decided action answered (approved and run, or refused), recorded once on its approval, and
 * the tool message in the conversation, in one transaction (its step was recorded when proposed).
 */
export async function recordDecision(
  ctx: ServiceContext,
  runId: string,
  agentId: string,
  actionId: string,
  outcome: Record<string, unknown>,
  toolMessage: { conversationId: string; content: string; metadata: Record<string, unknown> },
): Promise<void> {
  await withUser(ctx, async (tx) => {
    await tx`
      update public.agent_run_approvals set outcome = ${jsonParam(tx, bounded(outcome))}
      where user_id = ${ctx.userId} and id = ${actionId} and outcome is null`
    await recordAgentMessage.trusted({
      ctx: { ...agentActor(ctx, runId, agentId), tx },
      input: {
        conversation_id: toolMessage.conversationId,
        role: 'tool',
        content: toolMessage.content,
        metadata: toolMessage.metadata,
      },
    })
  })
}

/** The context an agent acts in for the user: their claims, the agent, the run and the message it answers. */
export function agentActor(
  ctx: ServiceContext,
  runId: string,
  agentId: string,
  messageId: string | null = null,
) {
  return agentContext(ctx.claims, { agentId, runId, messageId })
}

export type Usage = Record<string, { input_tokens: number; output_tokens: number }>

export interface RunEnding {
  status: 'succeeded' | 'cancelled'
  text: string
  model: string | null
  usage: Usage
  conversationId: string
  agentId: string
  triggerMessageId: string | null
}

/**
 * Stores the agent's answer (with the agent as its writer) and ends the run, in one transaction.
 * A run cancelled meanwhile stays cancelled, and its partial answer is stored marked as such.
 */
export async function finishRun(
  ctx: ServiceContext,
  runId: string,
  ending: RunEnding,
): Promise<{ run: Run; message: Message }> {
  return withUser(ctx, async (tx) => {
    // A run cancelled (or found stale) meanwhile keeps that status; its answer is stored all the same.
    const [run] = await tx<Run[]>`
      update public.agent_runs
      set status = case when status = 'running' then ${ending.status}::public.run_status else status end,
          finished_at = case when status = 'running' then now() else finished_at end,
          model = coalesce(${ending.model}, model), usage = ${jsonParam(tx, ending.usage)}
      where id = ${runId}
      returning ${tx(RUN_COLUMNS)}`
    if (!run) throw runNotFound()
    const cancelled = run.status === 'cancelled'
    const message = await recordAgentMessage.trusted({
      ctx: { ...agentActor(ctx, runId, ending.agentId, ending.triggerMessageId), tx },
      input: {
        conversation_id: ending.conversationId,
        role: 'assistant',
        content: ending.text,
        metadata: {
          run_id: runId,
          model: ending.model,
          usage: ending.usage,
          ...(cancelled ? { cancelled: true, partial: true } : {}),
        },
      },
    })
    return { run, message }
  })
}

/** Ends a run as failed, with the code and message a client sees; a run already finished is left as is. */
export async function failRun(
  ctx: ServiceContext,
  runId: string,
  error: { code: string; message: string },
  usage?: Usage,
): Promise<Run | undefined> {
  const [run] = await withUserStatement(
    ctx,
    (tx) => tx<Run[]>`
      update public.agent_runs
      set status = 'failed', finished_at = now(), error = ${jsonParam(tx, error)},
          usage = ${usage ? jsonParam(tx, usage) : tx`usage`}
      where id = ${runId} and status in ('queued', 'running')
      returning ${tx(RUN_COLUMNS)}`,
  )
  return run
}
