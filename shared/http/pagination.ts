import { z } from '@hono/zod-openapi'
import { base64url } from 'jose'
import { ValidationError } from './errors.ts'

/** `?limit=` (1–100, default 50) and `?cursor=` (opaque), the query every list route takes. */
export const listQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(50)
    .openapi({ param: { name: 'limit', in: 'query' }, example: 50 }),
  cursor: z
    .string()
    .min(1)
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query' }, description: 'next_cursor of the previous page' }),
})

export type ListQuery = z.infer<typeof listQuerySchema>

/** A list page as every list route answers it. */
export const pageSchema = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), next_cursor: z.string().nullable() })

export type CursorValue = string | number | boolean | null

/** The keyset position after a row (e.g. `[created_at, id]`), opaque to clients. */
export function encodeCursor(values: readonly CursorValue[]): string {
  return base64url.encode(JSON.stringify(values))
}

const invalidCursor = () => new ValidationError([{ path: 'cursor', message: 'The cursor is not valid' }])

/** The values `encodeCursor` wrapped; a cursor the client made up (or of another shape) is a 422. */
export function decodeCursor(cursor: string, arity?: number): CursorValue[] {
  let values: unknown
  try {
    values = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64url.decode(cursor)))
  } catch {
    throw invalidCursor()
  }
  const isValue = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v)
  if (!Array.isArray(values) || !values.every(isValue) || (arity !== undefined && values.length !== arity)) {
    throw invalidCursor()
  }
  return values
}

/**
 * Services fetch `limit + 1` rows; the extra row only tells that another page exists, and the
 * cursor points after the last row returned.
 */
export function page<T>(
  rows: readonly T[],
  limit: number,
  keyOf: (row: T) => readonly CursorValue[],
): { data: T[]; next_cursor: string | null } {
  if (rows.length <= limit) return { data: [...rows], next_cursor: null }
  const data = rows.slice(0, limit)
  return { data, next_cursor: encodeCursor(keyOf(data[data.length - 1])) }
}
