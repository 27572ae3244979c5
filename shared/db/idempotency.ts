import type { ServiceContext } from '../core/context.ts'
import { ConflictError } from '../core/errors.ts'
import { withUser } from './with-user.ts'

// Safe retries (docs/adr/0008-concurrency-and-idempotency.md): a create given a key stores its
// result, and a repeat of the same request under the same key within 24 hours gets that result.

/** How long a stored result is replayed. */
export const IDEMPOTENCY_WINDOW = '24 hours'

async function requestHash(scope: string, input: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify([scope, input]))
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

export interface Idempotency {
  key: string
  /** The verb, e.g. 'notes.create': one key may be reused across verbs. */
  scope: string
  /** The validated input, compared by hash with the first request under the key. */
  input: unknown
}

/**
 * Runs a create once per key. The key is claimed, the create runs and its result is stored in one
 * transaction, so a failed create leaves no key behind, and a concurrent repeat waits on the
 * claim's row lock, then replays. A key older than the window is claimed afresh.
 */
export async function runIdempotent<T>(
  ctx: ServiceContext,
  idempotency: Idempotency | undefined,
  create: (ctx: ServiceContext) => Promise<T>,
): Promise<{ result: T; replayed: boolean }> {
  if (!idempotency) return { result: await create(ctx), replayed: false }
  const { key, scope } = idempotency
  const hash = await requestHash(scope, idempotency.input)
  return withUser(
    ctx,
    async (tx) => {
      const claimed = await tx`
        insert into public.idempotency_keys as k (user_id, scope, key, request_hash)
        values (${ctx.userId}, ${scope}, ${key}, ${hash})
        on conflict (user_id, scope, key) do update
          set request_hash = excluded.request_hash, response_status = null, response_body = null, created_at = now()
          where k.created_at < now() - ${IDEMPOTENCY_WINDOW}::interval
        returning 1`
      if (claimed.length === 0) {
        // A new statement, so it sees a concurrent first request that committed while we waited.
        const [first] = await tx<{ request_hash: string; response_body: T | null }[]>`
          select request_hash, response_body from public.idempotency_keys
          where user_id = ${ctx.userId} and scope = ${scope} and key = ${key}`
        if (!first || first.request_hash !== hash || first.response_body === null) {
          throw new ConflictError('This Idempotency-Key was already used for a different request')
        }
        return { result: first.response_body, replayed: true }
      }
      const result = await create({ ...ctx, tx })
      // Expired keys of this user go here, off the path of requests without a key.
      await tx`
        with expired as (
          delete from public.idempotency_keys
          where user_id = ${ctx.userId} and created_at < now() - ${IDEMPOTENCY_WINDOW}::interval
        )
        update public.idempotency_keys set response_status = 201, response_body = ${tx.json(result as never)}
        where user_id = ${ctx.userId} and scope = ${scope} and key = ${key}`
      return { result, replayed: false }
    },
    ctx.tx,
  )
}
