import { z } from '@hono/zod-openapi'
import type { Block } from '../blocknote/schema.ts'
import { checklistItems } from '../blocknote/text.ts'
import { syncChecklist } from '../checklist/service.ts'
import { provenanceOf, userEdit } from '../core/context.ts'
import { ConflictError, PayloadTooLargeError, ValidationError } from '../core/errors.ts'
import { page, readCursor } from '../core/pages.ts'
import { columnsOf, IdInputSchema, RowVersionSchema, TimestampSchema } from '../core/schemas.ts'
import { defineVerb } from '../core/verb.ts'
import { jsonParam } from '../db/columns.ts'
import { deleteRow, getRow, rowTable, updateRow } from '../db/rows.ts'
import { type RuleErrors, withRules } from '../db/rules.ts'
import { withUser, withUserStatement } from '../db/with-user.ts'
import {
  MAX_NOTE_BYTES,
  type Note,
  NoteChangeSchema,
  NoteCreateSchema,
  NoteListQuerySchema,
  NoteSchema,
} from './schemas.ts'
import { jsonbTextBytes } from './size.ts'

export type NoteRow = Note & { content: Block[] }

const NOTE_COLUMNS = columnsOf(NoteSchema)
const NOTES = rowTable<NoteRow>('notes', NOTE_COLUMNS, 'No such note')

const rules: RuleErrors = {
  notes_parent_fkey: () => new ValidationError([{ path: 'parent_id', message: 'No such note' }]),
  notes_not_own_parent: () => new ConflictError('A note cannot be its own parent'),
  notes_no_cycles: () =>
    new ConflictError('A note cannot be placed under itself or one of its own sub-notes'),
}

/** A note's content is capped at 1 MiB: a bigger one is refused whole (413), not cut. */
function checkSize(content: Block[] | undefined): void {
  if (content !== undefined && jsonbTextBytes(content) > MAX_NOTE_BYTES) {
    throw new PayloadTooLargeError(`A note's content may be at most ${MAX_NOTE_BYTES} bytes`)
  }
}

/** The list's keyset position: after (is_pinned, updated_at, id), all descending. */
const ListPosition = z.tuple([z.boolean(), TimestampSchema, z.uuid()])

export const listNotes = defineVerb('notes.list', NoteListQuerySchema, async ({ ctx, input }) => {
  const after = readCursor(input.cursor, ListPosition)
  const rows = await withUserStatement(
    ctx,
    (tx) => tx<NoteRow[]>`
      select ${tx(NOTE_COLUMNS)} from public.notes
      where user_id = ${ctx.userId} and is_archived = ${input.is_archived}
        ${input.parent_id === 'root' ? tx`and parent_id is null` : input.parent_id ? tx`and parent_id = ${input.parent_id}` : tx``}
        ${input.is_pinned === undefined ? tx`` : tx`and is_pinned = ${input.is_pinned}`}
        ${input.q ? tx`and search @@ websearch_to_tsquery('simple', ${input.q})` : tx``}
        ${after ? tx`and (is_pinned, updated_at, id) < (${after[0]}, ${after[1]}::timestamptz, ${after[2]}::uuid)` : tx``}
      order by is_pinned desc, updated_at desc, id desc
      limit ${input.limit + 1}`,
    ctx.tx,
  )
  return page(rows, input.limit, (row) => [row.is_pinned, row.updated_at, row.id])
})

export const getNote = defineVerb('notes.get', IdInputSchema, ({ ctx, input }) =>
  getRow(ctx, NOTES, input.id),
)

/** Creates a note (recording who made it); its checklist items become tasks. */
export const createNote = defineVerb('notes.create', NoteCreateSchema, async ({ ctx, input }) => {
  checkSize(input.content)
  const { source, source_reference } = provenanceOf(ctx.actor)
  return withRules(rules, () =>
    withUser(
      ctx,
      async (tx) => {
        const [row] = await tx<NoteRow[]>`
          insert into public.notes (user_id, parent_id, title, content, is_archived, is_pinned, metadata,
                                    source, source_reference)
          values (${ctx.userId}, ${input.parent_id}, ${input.title}, ${jsonParam(tx, input.content)},
                  ${input.is_archived}, ${input.is_pinned}, ${jsonParam(tx, input.metadata)},
                  ${source}, ${source_reference && jsonParam(tx, source_reference)})
          returning ${tx(NOTE_COLUMNS)}`
        // A new note has no tasks yet: only a checklist needs the sync.
        if (checklistItems(row.content).length > 0) await syncChecklist(tx, ctx.userId, row.id, row.content)
        return row
      },
      ctx.tx,
    ),
  )
})

/** Changes the fields given; new content re-syncs the note's checklist tasks in the same transaction. */
export const updateNote = defineVerb('notes.update', NoteChangeSchema, async ({ ctx, input }) => {
  checkSize(input.changes.content)
  return withRules(rules, () =>
    withUser(
      ctx,
      async (tx) => {
        const row = await updateRow(tx, NOTES, { ...input, changes: userEdit(ctx.actor, input.changes) })
        if (input.changes.content !== undefined) await syncChecklist(tx, ctx.userId, row.id, row.content)
        return row
      },
      ctx.tx,
    ),
  )
})

/** Deletes the note, its sub-notes (the foreign key cascades) and their checklist tasks. */
export const deleteNote = defineVerb('notes.delete', RowVersionSchema, async ({ ctx, input }) => {
  await withUser(ctx, (tx) => deleteRow(tx, NOTES, input), ctx.tx)
})
