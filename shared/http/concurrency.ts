import { z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { Idempotency } from '../db/idempotency.ts'
import type { AppEnv } from './context.ts'

// Optimistic concurrency and safe retries over HTTP (docs/adr/0008-concurrency-and-idempotency.md):
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

/** The Idempotency-Key of a request, scoped to the verb and tied to the validated input. */
export function idempotencyOf(
  key: string | undefined,
  scope: string,
  input: unknown,
): Idempotency | undefined {
  return key === undefined ? undefined : { key, scope, input }
}

/** A route's `Idempotent-Replayed` header: set on a response replayed for a repeated key. */
export const replayHeaders = (replayed: boolean): Record<string, string> =>
  replayed ? { 'Idempotent-Replayed': 'true' } : {}
