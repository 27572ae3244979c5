import type { z } from '@hono/zod-openapi'
import { ValidationError } from '../http/errors.ts'
import { decodeCursor } from '../http/pagination.ts'

/**
 * The keyset position a `?cursor=` names, checked against the shape its list writes (values that
 * reach SQL casts must be well-formed); a cursor of another list or made up by hand is a 422.
 */
export function readCursor<T extends z.ZodType>(
  cursor: string | undefined,
  shape: T,
): z.infer<T> | undefined {
  if (cursor === undefined) return undefined
  const parsed = shape.safeParse(decodeCursor(cursor))
  if (!parsed.success) throw new ValidationError([{ path: 'cursor', message: 'The cursor is not valid' }])
  return parsed.data
}
