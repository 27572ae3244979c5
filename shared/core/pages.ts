import { z } from '@hono/zod-openapi'
import { base64url } from 'jose'
import { ValidationError } from './errors.ts'

// Lists are pages of keyset positions: `limit` rows after an opaque cursor, and the cursor of the
// next page, or null on the last.

/** `limit` (1–100, default 50) and `cursor` (opaque), the input of every list verb. */
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

/** `q`: a full-text search (websearch syntax, the 'simple' configuration) over the fields named. */
export const searchQuery = (over: string) =>
  z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .openapi({ description: `Full-text search over ${over}` })

/** A list page as every list verb answers it. */
export interface Page<Item> {
  data: Item[]
  next_cursor: string | null
}

export const pageSchema = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), next_cursor: z.string().nullable() })

export type CursorValue = string | number | boolean | null

/** The keyset position after a row (e.g. `[created_at, id]`), opaque to clients. */
export function encodeCursor(values: readonly CursorValue[]): string {
  return base64url.encode(JSON.stringify(values))
}

const invalidCursor = () => new ValidationError([{ path: 'cursor', message: 'The cursor is not valid' }])

/** The values `encodeCursor` wrapped; a cursor made up (or of another shape) is a 422. */
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
 * The keyset position a cursor names, checked against the shape its list writes (values that
 * reach SQL casts must be well-formed); a cursor of another list or made up by hand is a 422.
 */
export function readCursor<T extends z.ZodType>(
  cursor: string | undefined,
  shape: T,
): z.infer<T> | undefined {
  if (cursor === undefined) return undefined
  const parsed = shape.safeParse(decodeCursor(cursor))
  if (!parsed.success) throw invalidCursor()
  return parsed.data
}

/**
 * Verbs fetch `limit + 1` rows; the extra row only tells that another page exists, and the
 * cursor points after the last row returned.
 */
export function page<T>(
  rows: readonly T[],
  limit: number,
  keyOf: (row: T) => readonly CursorValue[],
): Page<T> {
  if (rows.length <= limit) return { data: [...rows], next_cursor: null }
  const data = rows.slice(0, limit)
  return { data, next_cursor: encodeCursor(keyOf(data[data.length - 1])) }
}
