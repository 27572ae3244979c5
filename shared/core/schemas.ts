import { z } from '@hono/zod-openapi'

// Field schemas every area shares. Each accepts JSON as an agent's tool sends it and text as a
// query string carries it (`true`, `a,b`), so one schema serves both callers of a verb.

export const MAX_METADATA_BYTES = 64 * 1024

const jsonBytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length

/** A free-form JSON object for clients' own use, at most 64 KiB. */
export const MetadataSchema = z
  .record(z.string(), z.unknown())
  .refine((value) => jsonBytes(value) <= MAX_METADATA_BYTES, {
    message: `metadata must be at most ${MAX_METADATA_BYTES} bytes of JSON`,
  })
  .openapi({ description: 'Any JSON object (at most 64 KiB)' })

/** A row's id. */
export const IdSchema = z.uuid()

/** A boolean: `true`/`false` in JSON, or spelled so in a query string. */
export const FlagSchema = z
  .union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')])
  .openapi({ type: 'boolean' })

/** One or more values: a JSON array, or a query parameter that repeats (`?s=a&s=b`) or lists (`?s=a,b`). */
export const listOf = <T extends z.ZodType>(item: T) =>
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

/** The `updated_at` versions a conditional write accepts (from If-Match); none given: any version. */
export const ExpectedVersionsSchema = z.array(TimestampSchema).optional()

/** Which row a conditional write is for, and the versions it accepts. */
export const RowVersionSchema = z.object({ id: IdSchema, expected: ExpectedVersionsSchema })

/** A partial update of a row: the row, its versions, and the fields given. */
export const rowChangeSchema = <Changes extends z.ZodType>(changes: Changes) =>
  RowVersionSchema.extend({ changes })

export const IdInputSchema = z.object({ id: IdSchema })

export type RowVersion = z.infer<typeof RowVersionSchema>
export interface RowChange<Changes> extends RowVersion {
  changes: Changes
}

/** The columns a row schema names, in its order: what a verb selects and returns. */
export const columnsOf = <Shape extends z.ZodRawShape>(schema: z.ZodObject<Shape>) =>
  Object.keys(schema.shape) as (keyof Shape & string)[]
