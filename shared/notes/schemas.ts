import { z } from '@hono/zod-openapi'
import { DocumentSchema } from '../blocknote/schema.ts'
import { listQuerySchema, searchQuery } from '../core/pages.ts'
import { FlagSchema, MetadataSchema, rowChangeSchema, TimestampSchema } from '../core/schemas.ts'

/** A note's content may take this many bytes, measured as Postgres prints the jsonb. */
export const MAX_NOTE_BYTES = 1024 * 1024

export const NoteSchema = z
  .object({
    id: z.uuid(),
    user_id: z.uuid(),
    parent_id: z.uuid().nullable(),
    title: z.string(),
    content: z.array(z.unknown()).openapi({ description: 'BlockNote document: an array of blocks' }),
    is_archived: z.boolean(),
    is_pinned: z.boolean(),
    metadata: z.record(z.string(), z.unknown()),
    created_at: TimestampSchema,
    updated_at: TimestampSchema.openapi({ description: 'Also the ETag' }),
  })
  .openapi('Note')

const noteFields = {
  title: z.string().trim().max(500),
  content: DocumentSchema,
  parent_id: z.uuid().nullable().openapi({ description: 'The parent note, or null for a top-level note' }),
  is_archived: z.boolean(),
  is_pinned: z.boolean(),
  metadata: MetadataSchema,
}

export const NoteCreateSchema = z
  .strictObject({
    ...noteFields,
    title: noteFields.title.default(''),
    content: noteFields.content.default([]),
    parent_id: noteFields.parent_id.default(null),
    is_archived: noteFields.is_archived.default(false),
    is_pinned: noteFields.is_pinned.default(false),
    metadata: noteFields.metadata.default({}),
  })
  .openapi('NoteCreate')

/** A partial update: only the fields given change; unknown fields are refused. */
export const NoteUpdateSchema = z.strictObject(noteFields).partial().openapi('NoteUpdate')

export const NoteListQuerySchema = listQuerySchema.extend({
  parent_id: z
    .union([z.uuid(), z.literal('root')])
    .optional()
    .openapi({ description: 'Children of this note, or `root` for top-level notes' }),
  is_archived: FlagSchema.default(false).openapi({ description: 'Default false' }),
  is_pinned: FlagSchema.optional(),
  q: searchQuery('title and content'),
})

export const NoteChangeSchema = rowChangeSchema(NoteUpdateSchema)

export type Note = z.infer<typeof NoteSchema>
export type NoteCreate = z.infer<typeof NoteCreateSchema>
export type NoteUpdate = z.infer<typeof NoteUpdateSchema>
export type NoteListQuery = z.infer<typeof NoteListQuerySchema>
