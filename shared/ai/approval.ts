import { z } from '@hono/zod-openapi'
import type { ServiceContext, Tx } from '../core/context.ts'
import { ConflictError, RateLimitedError, toDomainError, ValidationError } from '../core/errors.ts'
import { defineVerb } from '../core/verb.ts'
import { jsonParam } from '../db/columns.ts'
import { withUser } from '../db/with-user.ts'
import { type ApprovalPolicy, ApprovalPolicySchema, DEFAULT_APPROVAL_POLICY } from '../users/schemas.ts'
import { loadRunLimits } from './limits.ts'
import {
  approvalTtlSeconds,
  expireApprovals,
  insertStep,
  RUN_COLUMNS,
  runNotFound,
  type Usage,
} from './runs.ts'
import { type Run, RunApprovalInputSchema } from './schemas.ts'
import type { AgentTool, ProposedChange } from './tools.ts'

// Approval before an agent's change (ADR 0030). The user's preference `ai.approval` says which tool
// calls wait: `never`; `destructive` (the default: a delete, or a call changing more than 10 rows);
// `always` (every change). A call that waits pauses the run: what it had (its messages, the calls
// still to make) is kept in Postgres, each proposed change is a row the user decides, and no
// process waits. Deciding resumes the run wherever that request is served.

/** A call that changes more rows than this waits for approval under `destructive`. */
export const BULK_APPROVAL_ROWS = 10

export type ApprovalReason = 'delete' | 'bulk' | 'write'

/** The user's approval policy from their preferences (`ai.approval`), or the default. */
export function approvalPolicyOf(preferences: unknown): ApprovalPolicy {
  const chosen = (preferences as { ai?: { approval?: unknown } } | null)?.ai?.approval
  const parsed = ApprovalPolicySchema.safeParse(chosen)
  return parsed.success ? parsed.data : DEFAULT_APPROVAL_POLICY
}

export async function loadApprovalPolicy(tx: Tx, userId: string): Promise<ApprovalPolicy> {
  const [profile] = await tx<{ preferences: unknown }[]>`
    select preferences from public.profiles where id = ${userId}`
  return approvalPolicyOf(profile?.preferences ?? null)
}

/** Why a proposed change needs the user's approval under a policy, or null. */
export function approvalReason(policy: ApprovalPolicy, change: ProposedChange): ApprovalReason | null {
  // A call that would change nothing (its rows are not the user's, or none match) needs no one's word.
  if (policy === 'never' || change.count === 0) return null
  if (change.operation === 'delete') return 'delete'
  if (change.count > BULK_APPROVAL_ROWS) return 'bulk'
  return policy === 'always' ? 'write' : null
}

/** What the gate decided for a call: the arguments to run it with, and the change if it must wait. */
export interface Gate {
  args: unknown
  proposal?: { change: ProposedChange; reason: ApprovalReason }
}

/**
 * Whether a tool call must wait for approval. A tool that only reads never does. A proposal that
 * fails with a domain error (invalid arguments, rows not the user's) means the call itself fails the
 * same way and changes nothing: it runs, and the model reads its error.
 */
export async function gateToolCall(
  policy: ApprovalPolicy,
  agentTool: AgentTool | undefined,
  ctx: ServiceContext,
  args: unknown,
): Promise<Gate> {
  if (!agentTool?.propose || policy === 'never') return { args }
  let change: ProposedChange
  try {
    change = await agentTool.propose(ctx, args ?? {})
  } catch (error) {
    const known = toDomainError(error)
    if (!known || known.code === 'unauthorized' || known.code === 'rate_limited') throw error
    return { args }
  }
  const bound = agentTool.bind ? agentTool.bind(args ?? {}, change) : args
  const reason = approvalReason(policy, change)
  return reason ? { args: bound, proposal: { change, reason } } : { args: bound }
}

// What a waiting run keeps (agent_run_pauses.state), checked when it is read back: the stack of
// agents at work (the one the user talks to first, then a specialist it delegated to), each with its
// messages up to the model's last call, the results of the calls already made of that call's batch,
// and where in the batch it stopped; the run's counters; and the calls waiting, with the arguments
// they will run with.

const StoredCallSchema = z.object({
  id: z.string().min(1).max(200),
  name: z.string().min(1).max(100),
  args: z.record(z.string(), z.unknown()),
})

export const StoredMessageSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('user'), content: z.string() }),
  z.object({ role: z.literal('assistant'), content: z.string(), tool_calls: z.array(StoredCallSchema) }),
  z.object({
    role: z.literal('tool'),
    tool_call_id: z.string(),
    name: z.string(),
    content: z.string(),
    status: z.enum(['success', 'error']),
  }),
])
export type StoredMessage = z.infer<typeof StoredMessageSchema>

const FrameSchema = z.object({
  agent_id: z.string().min(1).max(100),
  system: z.string(),
  speaking: z.boolean(),
  said: z.string(),
  messages: z.array(StoredMessageSchema).min(1),
  done: z.array(StoredMessageSchema),
  next: z.number().int().min(0),
})
export type Frame = z.infer<typeof FrameSchema>

const WaitingCallSchema = z.object({
  action_id: z.uuid(),
  tool_call_id: z.string(),
  args: z.unknown(),
})

export const PausedStateSchema = z.object({
  version: z.literal(1),
  frames: z.array(FrameSchema).min(1).max(2),
  answer: z.string(),
  model: z.string().nullable(),
  usage: z.record(z.string(), z.object({ input_tokens: z.number(), output_tokens: z.number() })),
  model_calls: z.number().int().min(0),
  tool_calls: z.number().int().min(0),
  position: z.number().int().min(0),
  /** The next broadcast's `seq`: a resumed run's events follow the ones before the pause. */
  seq: z.number().int().min(0),
  waiting: z.array(WaitingCallSchema).min(1),
})
export type PausedState = z.infer<typeof PausedStateSchema>

/** A call that waits for approval: its step (the action id), the call, and the change. */
export interface PendingAction {
  actionId: string
  position: number
  toolCallId: string
  tool: string
  agentId: string
  /** What the model called it with. */
  arguments: Record<string, unknown>
  /** What it runs with once approved (a filter bound to the rows proposed). */
  boundArgs: unknown
  change: ProposedChange
  reason: ApprovalReason
}

/** Thrown through the agents' work when a call must wait: the frames of the agents at work, and the calls. */
export class ApprovalPause extends Error {
  constructor(
    readonly frames: Frame[],
    readonly pending: PendingAction[],
  ) {
    super('The run waits for the user’s approval')
    this.name = 'ApprovalPause'
  }
}

/** An action as the approval_required broadcast and the SSE stream describe it. */
export const describeAction = (action: PendingAction) => ({
  action_id: action.actionId,
  tool: action.tool,
  agent_id: action.agentId,
  arguments: action.arguments,
  reason: action.reason,
  summary: action.change.summary,
  change: {
    operation: action.change.operation,
    table: action.change.table,
    count: action.change.count,
    rows: action.change.rows,
    ...(action.change.fields ? { fields: action.change.fields } : {}),
  },
})

export interface PausedRun {
  run: Run
  expiresAt: string
}

/**
 * Pauses a running run, in one transaction: the steps of the waiting calls (their ids are the action
 * ids), the proposed changes, the kept state, and the run `awaiting_approval`. Undefined if the run
 * is no longer running (cancelled meanwhile): then nothing is kept.
 */
export async function pauseRun(
  ctx: ServiceContext,
  runId: string,
  state: Omit<PausedState, 'version'>,
  pending: PendingAction[],
  usage: Usage,
): Promise<PausedRun | undefined> {
  return withUser(ctx, async (tx) => {
    const [run] = await tx<Run[]>`
      update public.agent_runs set status = 'awaiting_approval', model = coalesce(${state.model}, model),
             usage = ${jsonParam(tx, usage)}
      where id = ${runId} and status = 'running'
      returning ${tx(RUN_COLUMNS)}`
    if (!run) return undefined
    const now = new Date()
    for (const action of pending) {
      await insertStep(tx, ctx.userId, runId, {
        id: action.actionId,
        position: action.position,
        kind: 'tool_call',
        name: action.tool,
        agentId: action.agentId,
        input: { tool_call_id: action.toolCallId, arguments: action.arguments, awaiting_approval: true },
        output: {},
        startedAt: now,
        finishedAt: now,
      })
    }
    for (const [position, action] of pending.entries()) {
      const {
        action_id: _id,
        tool,
        agent_id,
        arguments: args,
        reason,
        summary,
        change,
      } = describeAction(action)
      await tx`
        insert into public.agent_run_approvals (id, user_id, run_id, position, tool_call_id, tool, agent_id,
                                                arguments, reason, summary, change)
        values (${action.actionId}, ${ctx.userId}, ${runId}, ${position}, ${action.toolCallId.slice(0, 200)},
                ${tool}, ${agent_id}, ${jsonParam(tx, args)}, ${reason}, ${Array.from(summary).slice(0, 2000).join('')},
                ${jsonParam(tx, change)})`
    }
    const [pause] = await tx<{ expires_at: Date }[]>`
      insert into public.agent_run_pauses (user_id, run_id, state)
      values (${ctx.userId}, ${runId}, ${jsonParam(tx, { version: 1, ...state })})
      returning created_at + make_interval(secs => ${approvalTtlSeconds()}) as expires_at`
    return { run, expiresAt: new Date(pause.expires_at).toISOString() }
  })
}

/** A decision on a waiting call, with what the run needs to carry it out. */
export interface DecidedAction {
  actionId: string
  toolCallId: string
  tool: string
  agentId: string
  approve: boolean
  note: string | null
  /** The arguments an approved call runs with. */
  args: unknown
}

/** What a run resumes with: its kept state, the decisions, and the user's policy now. */
export interface Resumption {
  state: PausedState
  decisions: DecidedAction[]
  policy: ApprovalPolicy
}

interface PendingRow {
  id: string
  tool_call_id: string
  tool: string
  agent_id: string
}

/**
 * Records the user's decisions on every change a run awaits and sets it running again, in one
 * transaction; the run then resumes in the caller's background (`resumeRun`). Every waiting action
 * must be decided, once: an unknown or missing one is a 422 and nothing changes. A run that is not
 * waiting (decided already, finished, or expired: cancelled with `approval_expired`) is a 409;
 * another user's run a 404. Resuming takes one of the user's runs-at-once (a 429 when none is free).
 */
export const decideApproval = defineVerb('runs.approve', RunApprovalInputSchema, async ({ ctx, input }) => {
  const limits = loadRunLimits()
  const outcome = await withUser(
    ctx,
    async (tx): Promise<{ run: Run; resumption?: Resumption }> => {
      await expireApprovals(tx, ctx.userId)
      const [run] = await tx<Run[]>`
        select ${tx(RUN_COLUMNS)} from public.agent_runs where id = ${input.id} for update`
      if (!run) throw runNotFound()
      // Answered after the transaction, so that an expiry found here is kept.
      if (run.status !== 'awaiting_approval') return { run }

      const pending = await tx<PendingRow[]>`
        select id, tool_call_id, tool, agent_id from public.agent_run_approvals
        where user_id = ${ctx.userId} and run_id = ${input.id} and decision is null
        order by position`
      const waiting = new Set(pending.map((row) => row.id))
      const given = new Set(input.decisions.map((decision) => decision.action_id))
      const problems = [
        ...input.decisions.flatMap((decision, index) =>
          waiting.has(decision.action_id)
            ? []
            : [
                {
                  path: `decisions.${index}.action_id`,
                  message: 'No such action awaits approval in this run',
                },
              ],
        ),
        ...pending
          .filter((row) => !given.has(row.id))
          .map((row) => ({ path: 'decisions', message: `Decide the action ${row.id} (${row.tool}) too` })),
      ]
      if (problems.length > 0) throw new ValidationError(problems)

      try {
        await tx`select private.check_run_limits(${limits.maxActiveRuns}, 0,
                   ${`${limits.staleAfterSeconds} seconds`}::interval)`
      } catch (error) {
        const { code, message, detail } = (error ?? {}) as {
          code?: unknown
          message?: string
          detail?: string
        }
        if (code === 'CS429' && message) throw new RateLimitedError(message, Number(detail) || 5)
        throw error
      }

      for (const decision of input.decisions) {
        await tx`
          update public.agent_run_approvals
          set decision = ${decision.approve ? 'approved' : 'refused'}, note = ${decision.note ?? null},
              decided_at = now()
          where user_id = ${ctx.userId} and id = ${decision.action_id}`
      }
      const [pause] = await tx<{ state: unknown }[]>`
        delete from public.agent_run_pauses where user_id = ${ctx.userId} and run_id = ${input.id}
        returning state`
      const [resumed] = await tx<Run[]>`
        update public.agent_runs set status = 'running' where id = ${input.id}
        returning ${tx(RUN_COLUMNS)}`
      const state = PausedStateSchema.safeParse(pause?.state)
      if (!state.success) {
        // A kept state that cannot be read back (missing, or changed by hand) cannot resume.
        await tx`
          update public.agent_runs set status = 'failed', finished_at = now(),
                 error = ${jsonParam(tx, { code: 'internal', message: 'The run’s kept state could not be read back' })}
          where id = ${input.id}`
        return { run: { ...resumed, status: 'failed' } }
      }
      const byId = new Map(pending.map((row) => [row.id, row]))
      const argsOf = new Map(state.data.waiting.map((call) => [call.action_id, call.args]))
      const decisions = input.decisions.map((decision): DecidedAction => {
        const row = byId.get(decision.action_id) as PendingRow
        return {
          actionId: row.id,
          toolCallId: row.tool_call_id,
          tool: row.tool,
          agentId: row.agent_id,
          approve: decision.approve,
          note: decision.note ?? null,
          args: argsOf.get(row.id) ?? {},
        }
      })
      const policy = await loadApprovalPolicy(tx, ctx.userId)
      return { run: resumed, resumption: { state: state.data, decisions, policy } }
    },
    ctx.tx,
  )
  if (!outcome.resumption) {
    const { run } = outcome
    if (run.status === 'failed' && run.error?.code === 'internal') {
      throw new ConflictError('The run’s kept state could not be read back; it has failed')
    }
    throw new ConflictError(
      run.error?.code === 'approval_expired'
        ? 'The run waited for approval too long and was cancelled (approval_expired); nothing it proposed was done'
        : `The run is not awaiting approval (it is ${run.status.replace('_', ' ')})`,
    )
  }
  return outcome as { run: Run; resumption: Resumption }
})
