import type { JwtClaims, Tx } from '../core/context.ts'
import { UnauthorizedError } from '../core/errors.ts'
import { getSql } from './client.ts'

export type { Tx } from '../core/context.ts'

const sessionEnded = () => new UnauthorizedError('This session has ended; sign in again')

/**
 * Runs `fn` in one transaction as the user: `request.jwt.claims` (bound as a parameter, never
 * pasted into SQL) and `role authenticated`, both transaction-local, so RLS decides every row.
 * BEGIN, the settings and fn's first query go out in one write on a reserved connection (postgres.js
 * pipelines them), so a one-query request costs two round trips: that one and COMMIT. If any of
 * them fails the transaction is aborted and fn's queries fail too: nothing runs without the role.
 * The same statement asks whether the token's session is still live (tokens are verified without
 * calling Auth, so one outlives a sign-out by up to its hour): if not, nothing fn did is kept and
 * the request is 401. Given `outer`, fn joins that transaction instead.
 */
export async function withUser<T>(claims: JwtClaims, fn: (tx: Tx) => Promise<T>, outer?: Tx): Promise<T> {
  if (outer) return fn(outer)
  // Only verified claims get here; anything else is a bug, refused before it reaches the pipeline.
  if (typeof claims?.sub !== 'string') throw new Error('withUser needs the verified claims of a user')
  const tx = await getSql().reserve()
  try {
    const opened = Promise.all([
      tx`begin`.execute(),
      tx<{ active: boolean }[]>`
        select set_config('request.jwt.claims', ${JSON.stringify(claims)}, true),
               set_config('role', 'authenticated', true),
               private.session_is_active(${claims.session_id ?? null}::uuid) as active`.execute(),
    ]).then(([, [settings]]) => (settings.active ? undefined : sessionEnded()))
    // Awaited below; until then a failure must not count as an unhandled rejection.
    opened.catch(() => {})
    let result: T
    try {
      result = await fn(tx)
      const ended = await opened
      if (ended) throw ended
    } catch (error) {
      // When the settings failed or the session has ended, fn's error is only an echo: report the cause.
      const cause = await opened.then(
        (ended) => ended,
        (setupError: unknown) => setupError,
      )
      await tx`rollback`.catch(() => {})
      throw cause ?? error
    }
    await tx`commit`
    return result
  } finally {
    tx.release()
  }
}
