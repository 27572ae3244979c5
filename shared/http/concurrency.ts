import { z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { type ServiceContext, type Tx, withUser } from '../db/with-user.ts'
import type { AppEnv } from './context.ts'
import { ConflictError, PreconditionFailedError } from './errors.ts'
import { ErrorSchema } from './openapi.ts'

// Optimistic concurrency and safe retries (docs/adr/0008-concurrency-and-idempotency.md):
// a row's `updated_at` is its ETag; `If-Match` makes an update or delete conditional on it; an
// `Idempotency-Key` on a POST stores the first response and replays it to a repeat for 24 hours.

/** The ETag of a row: its updated_at (ISO 8601 with Postgres's microseconds) as a strong tag. */
export const etagOf = (row: { updated_at: string }): string => `"${row.updated_at}"`

const TIMESTAMP_TAG = /^"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z)"$/

/**
 * The `updated_at` values an `If-Match` header accepts; `undefined` when there is no precondition
 * (no header, or `*`). Weak or foreign tags can never match (If-Match compares strongly), so a
 * header made only of them leaves an empty list: the write is refused as stale.
 */
export function expectedVersions(header: string | undefined): string[] | undefined {
  if (header === undefined) return undefined
  const tags = header
    .split(',')
    .map((tag) => tag.trim())
    .filter(Boolean)
  if (tags.includes('*')) return undefined
  return tags.flatMap((tag) => TIMESTAMP_TAG.exec(tag)?.[1] ?? [])
}

/** A conditional write that changed nothing: 404 if the row is not the user's, else 412. */
export async function refuseMissingOrStale(
  tx: Tx,
  table: 'notes' | 'tasks' | 'goals' | 'reflections',
  id: string,
  notFound: () => Error,
): Promise<never> {
  const [row] = await tx`select 1 from ${tx(`public.${table}`)} where id = ${id}`
  if (!row) throw notFound()
  throw new PreconditionFailedError('The resource has changed since it was read (If-Match)')
}

/** The SQL condition of a conditional write on `updated_at`; true when there is no precondition. */
export function matchesVersion(tx: Tx, expected: string[] | undefined) {
  return expected === undefined ? tx`true` : tx`updated_at = any(${expected}::timestamptz[])`
}

export const IfMatchHeaderSchema = z.object({
  'if-match': z
    .string()
    .optional()
    .openapi({
      param: { name: 'if-match', in: 'header' },
      description: 'The ETag last read; the write is refused with 412 if the row has changed since',
    }),
})

export const IdempotencyHeaderSchema = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .optional()
    .openapi({
      param: { name: 'idempotency-key', in: 'header' },
      description: 'A key unique to this request; a repeat within 24 hours gets the first response',
    }),
})

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorSchema } },
})

export const conflictResponse = {
  409: errorResponse('The request conflicts with the current state (conflict)'),
}
export const preconditionResponse = {
  412: errorResponse('If-Match named a version that is no longer current (precondition_failed)'),
}

/** The ETag response header, documented. */
export const etagHeader = {
  ETag: { schema: { type: 'string' as const }, description: 'The row’s updated_at' },
}

/** Answers with a row and its ETag. */
export function rowResponse<T extends { updated_at: string }, S extends 200 | 201>(
  c: Context<AppEnv>,
  row: T,
  status: S,
  headers: Record<string, string> = {},
) {
  return c.json(row, status, { ...headers, ETag: etagOf(row) })
}

/** How long a stored response is replayed. */
export const IDEMPOTENCY_WINDOW = '24 hours'

async function requestHash(scope: string, input: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify([scope, input]))
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

export interface Idempotency {
  key: string
  /** The operation, e.g. 'notes.create': one key may be reused across operations. */
  scope: string
  /** The validated request, compared by hash with the first request under the key. */
  input: unknown
}

/**
 * Runs a create once per Idempotency-Key. The key is claimed, the create runs and its result is
 * stored in one transaction, so a failed create leaves no key behind, and a concurrent repeat
 * waits on the claim's row lock, then replays. A key older than the window is claimed afresh.
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
    ctx.claims,
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

/** The Idempotency-Key of a request, scoped to the operation and tied to the validated body. */
export function idempotencyOf(
  key: string | undefined,
  scope: string,
  input: unknown,
): Idempotency | undefined {
  return key === undefined ? undefined : { key, scope, input }
}
