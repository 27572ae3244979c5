import { z } from '@hono/zod-openapi'

export const MAX_METADATA_BYTES = 64 * 1024

const jsonBytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length

/** A free-form JSON object for clients' own use, at most 64 KiB. */
export const MetadataSchema = z
  .record(z.string(), z.unknown())
  .refine((value) => jsonBytes(value) <= MAX_METADATA_BYTES, {
    message: `metadata must be at most ${MAX_METADATA_BYTES} bytes of JSON`,
  })
  .openapi({ description: 'Any JSON object (at most 64 KiB)' })

export const IdParamsSchema = z.object({
  id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }),
})

/** A boolean query parameter, spelled `true` or `false`. */
export const QueryFlagSchema = z
  .enum(['true', 'false'])
  .transform((value) => value === 'true')
  .openapi({ type: 'boolean' })

/** A query parameter that may repeat (`?status=a&status=b`) or list values (`?status=a,b`). */
export const queryList = <T extends z.ZodType>(item: T) =>
  z
    .preprocess(
      (value) => (Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : value),
      z.array(item).min(1).max(20),
    )
    .openapi({ type: 'array', items: { type: 'string' }, style: 'form', explode: true } as never)

/** A calendar date, YYYY-MM-DD. */
export const DateSchema = z.iso.date()

/** An ISO 8601 timestamp as the database writes it (UTC, up to microseconds). */
export const TimestampSchema = z.iso.datetime()
