import type postgres from 'postgres'

/** A verified Supabase access token's claims (the fields this code relies on, plus the rest). */
export interface JwtClaims {
  sub: string
  role: string
  aud: string | string[]
  exp?: number
  iat?: number
  iss?: string
  email?: string
  session_id?: string
  is_anonymous?: boolean
  app_metadata?: Record<string, unknown>
  user_metadata?: Record<string, unknown>
  [claim: string]: unknown
}

/** Who is making a change: the user, or an agent acting for the user in a run. */
export type Actor =
  | { kind: 'user' }
  | {
      kind: 'agent'
      /** The agent's id in the registry, e.g. 'task-manager'. */
      agentId: string
      /** The run the change is part of. */
      runId: string
      /** The message the run answers (the user's request), or null for a scheduled run. */
      messageId: string | null
      /**
       * The tool call the change is part of: the id its agent_run_steps row gets. With it, the
       * change is recorded in the run's trace (agent_run_actions), which an undo reads back.
       */
      stepId?: string
    }

export const USER_ACTOR: Actor = { kind: 'user' }

/** What a query runs on inside `withUser`: a connection in the user's transaction. */
export type Tx = postgres.ISql

/**
 * Who is asking, handed to every verb: the verified claims (Postgres's RLS decides with them), the
 * user, who acts (the user or an agent for them), and an open transaction of theirs to join.
 */
export interface ServiceContext {
  claims: JwtClaims
  userId: string
  actor: Actor
  /** The client's address, when a request came from one: counted against its rate limit. */
  address?: string
  tx?: Tx
}

/** The context of a user acting for themselves (every HTTP route). */
export const userContext = (claims: JwtClaims, address?: string): ServiceContext => ({
  claims,
  userId: claims.sub,
  actor: USER_ACTOR,
  ...(address ? { address } : {}),
})

/** The context of an agent acting for the user whose claims these are. */
export const agentContext = (
  claims: JwtClaims,
  agent: { agentId: string; runId: string; messageId: string | null; stepId?: string },
): ServiceContext => ({ claims, userId: claims.sub, actor: { kind: 'agent', ...agent } })

/** The same agent's context for one tool call: its changes are traced under that step. */
export const inStep = (ctx: ServiceContext, stepId: string): ServiceContext =>
  ctx.actor.kind === 'agent' ? { ...ctx, actor: { ...ctx.actor, stepId } } : ctx

/** Where a row came from, as the provenance columns store it (`source`, `source_reference`). */
export function provenanceOf(actor: Actor): {
  source: 'manual' | 'agent'
  source_reference: Record<string, string | null> | null
} {
  return actor.kind === 'user'
    ? { source: 'manual', source_reference: null }
    : {
        source: 'agent',
        source_reference: { agent_id: actor.agentId, run_id: actor.runId, message_id: actor.messageId },
      }
}

/**
 * The columns of a partial update, with `edited_by_user` set when the user (not an agent) gives
 * any field: later automatic changes (a checklist sync) then leave the user's edit alone.
 */
export function userEdit<Changes extends object>(
  actor: Actor,
  changes: Changes,
): Changes & { edited_by_user?: true } {
  const given = Object.values(changes).some((value) => value !== undefined)
  return actor.kind === 'user' && given ? { ...changes, edited_by_user: true } : changes
}
