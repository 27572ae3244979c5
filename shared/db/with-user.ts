import type postgres from 'postgres'
import { loadConfig } from '../config.ts'
import type { Actor, JwtClaims, ServiceContext, Tx } from '../core/context.ts'
import { getSql } from './client.ts'

export type { Tx } from '../core/context.ts'

// A request runs in one transaction as the user (docs/adr/0001, 0009, 0023): `request.jwt.claims`
// (bound as a parameter, never pasted into SQL) and `role authenticated`, both transaction-local,
// so RLS decides every row. The same statement, in one call of private.begin_request (ADR 0037),
// checks that the token's session still lives (tokens are verified without calling Auth, so one
// would outlive a sign-out by up to its hour): it raises CS401 if not, which aborts the
// transaction, so nothing the request did is kept and it is answered 401 (core/errors.ts maps
// CS401). It also counts the request against the rate limits (ADR 0022): over one, it raises
// CS429 (a 429 with Retry-After). Under a limit of 200 a minute or more it takes several counts at
// once and serves the next requests of that minute from them without writing (ADR 0038); the
// session is checked on every request all the same. For an agent acting in a run it also names
// the run and the tool call (consilium.agent_run_id, consilium.agent_step_id), so that a trigger
// records the agent's changes in the run's trace in the same transaction (ADR 0029); for the
// user's own requests both are set empty, so their edits are never traced.

/**
 * Rate-limit counts this instance has taken ahead (docs/adr/0038-request-count-leases.md): per
 * counter key, how many more requests it may serve in that minute without writing the count. Taken
 * in the request's own statement, kept only once its transaction has committed (a rolled-back
 * count was never taken), used only in the minute the database counted them in.
 */
const leases = new Map<string, { window: number; left: number }>()
/** Counters held at once; past this the oldest lease is dropped (it only means a count is written). */
const MAX_LEASES = 10_000
/** The most counts taken at once. A limit under 200 a minute is counted one by one, exactly. */
const MAX_LEASE = 10

const leaseSize = (limit: number) => Math.max(1, Math.min(MAX_LEASE, Math.floor(limit / 100)))

/**
 * How many counts this request takes for `key` in minute `window`: 0 when a lease of that minute
 * covers it. The database counts the request after all if its own minute is another.
 */
function takeFromLease(key: string, limit: number, window: number): number {
  if (limit <= 0) return 0
  const lease = leases.get(key)
  if (lease && lease.left > 0 && lease.window === window) {
    lease.left--
    return 0
  }
  return leaseSize(limit)
}

/** Adds what a committed request took ahead to the key's lease (requests in parallel each add theirs). */
function keepLease(key: string, window: number, left: number): void {
  const held = leases.get(key)
  const total = left + (held?.window === window ? held.left : 0)
  leases.delete(key)
  if (total <= 0) return
  if (leases.size >= MAX_LEASES) leases.delete(leases.keys().next().value as string)
  leases.set(key, { window, left: total })
}

/** Forgets every lease (tests that change the limits mid-run). */
export function clearRequestCountLeases(): void {
  leases.clear()
}

/** The transaction's opening statements, and what they took ahead, to keep once it commits. */
interface Opening {
  done: Promise<unknown>
  /** Keeps the leases taken, given the answer to the transaction's COMMIT. */
  keep(committed: { command: string }): Promise<void>
}

/** Who a transaction is for: a verb's context (claims, client address, an open transaction) or bare claims. */
export type Subject = ServiceContext | JwtClaims

function partsOf(subject: Subject, joined: Tx | undefined) {
  if ('claims' in subject && typeof subject.claims === 'object') {
    const ctx = subject as ServiceContext
    return { claims: ctx.claims, address: ctx.address, actor: ctx.actor, outer: joined ?? ctx.tx }
  }
  return { claims: subject as JwtClaims, address: undefined, actor: undefined, outer: joined }
}

function openTransaction(tx: Tx, claims: JwtClaims, address: string | undefined, actor?: Actor): Opening {
  // Only verified claims get here; anything else is a bug, refused before it reaches the pipeline.
  if (typeof claims?.sub !== 'string') throw new Error('withUser needs the verified claims of a user')
  const { perUserPerMinute, perAddressPerMinute } = loadConfig().rateLimits
  const agent = actor?.kind === 'agent' ? actor : undefined
  const userKey = `user:${claims.sub}`
  const addressKey = `address:${address}`
  const window = Math.floor(Date.now() / 60_000)
  const userLease = takeFromLease(userKey, perUserPerMinute, window)
  const addressLease = address ? takeFromLease(addressKey, perAddressPerMinute, window) : 0
  const done = Promise.all([
    tx`begin`.execute(),
    tx<{ leases: number[] }[]>`
      select set_config('request.jwt.claims', ${JSON.stringify(claims)}, true),
             set_config('role', 'authenticated', true),
             set_config('consilium.agent_run_id', ${agent?.runId ?? ''}, true),
             set_config('consilium.agent_step_id', ${agent?.stepId ?? ''}, true),
             private.begin_request(${claims.session_id ?? null}::uuid, ${address ?? null},
                                   ${perUserPerMinute}, ${perAddressPerMinute},
                                   ${userLease}, ${addressLease}, ${window}) as leases`.execute(),
  ])
  return {
    done,
    async keep(committed) {
      // A COMMIT of an aborted transaction is answered ROLLBACK, without an error: nothing was taken.
      if (committed.command !== 'COMMIT') return
      const [, [row]] = await done
      // The minute the database counted them in, which may not be `window`.
      const [userLeft, addressLeft, counted] = row.leases
      if (userLease > 0) keepLease(userKey, counted, userLeft)
      if (addressLease > 0) keepLease(addressKey, counted, addressLeft)
    },
  }
}

/**
 * Runs `fn`, which may run several statements, in one transaction as the user. BEGIN, the settings
 * and fn's first query go out in one write on a reserved connection (postgres.js pipelines them);
 * COMMIT follows once fn is done: two round trips for one query. If the settings fail (the session
 * has ended, say), fn's queries fail too and that failure is reported. Given `outer`, fn joins
 * that transaction instead.
 */
export async function withUser<T>(subject: Subject, fn: (tx: Tx) => Promise<T>, joined?: Tx): Promise<T> {
  const { claims, address, actor, outer } = partsOf(subject, joined)
  if (outer) return fn(outer)
  const tx = await getSql().reserve()
  try {
    const opening = openTransaction(tx, claims, address, actor)
    const opened = opening.done
    // Awaited below; until then a failure must not count as an unhandled rejection.
    opened.catch(() => {})
    let result: T
    try {
      result = await fn(tx)
      await opened
    } catch (error) {
      // When the settings failed, fn's error is only an echo ("transaction is aborted"): report the cause.
      const cause = await opened.then(
        () => undefined,
        (setupError: unknown) => setupError,
      )
      await tx`rollback`.catch(() => {})
      throw cause ?? error
    }
    await opening.keep(await tx`commit`)
    return result
  } finally {
    tx.release()
  }
}

/**
 * Runs one statement as the user in one round trip: BEGIN, the settings, the statement and COMMIT
 * go out in one write. If the settings or the statement fail, the transaction is aborted and
 * Postgres answers the COMMIT as a rollback, so nothing is kept; the first failure is reported.
 * `statement` must build the query without awaiting it. Given `outer`, it runs in that transaction.
 */
export async function withUserStatement<Rows extends readonly postgres.MaybeRow[]>(
  subject: Subject,
  statement: (tx: Tx) => postgres.PendingQuery<Rows>,
  joined?: Tx,
): Promise<postgres.RowList<Rows>> {
  const { claims, address, actor, outer } = partsOf(subject, joined)
  if (outer) return statement(outer)
  const tx = await getSql().reserve()
  try {
    const opening = openTransaction(tx, claims, address, actor)
    const [opened, result, committed] = await Promise.allSettled([
      opening.done,
      statement(tx).execute(),
      tx`commit`.execute(),
    ])
    if (opened.status === 'rejected') throw opened.reason
    if (result.status === 'rejected') throw result.reason
    if (committed.status === 'rejected') throw committed.reason
    await opening.keep(committed.value)
    return result.value
  } finally {
    tx.release()
  }
}
