import { z } from '@hono/zod-openapi'
import type { Block } from '../blocknote/schema.ts'
import { checklistItems } from '../blocknote/text.ts'
import { type ServiceContext, withUser } from '../db/with-user.ts'
import { jsonParam } from '../domain/columns.ts'
import { readCursor } from '../domain/cursor.ts'
import {
  deleteRow,
  getRow,
  type RowChange,
  type RowVersion,
  rowTable,
  selectRow,
  updateRow,
} from '../domain/rows.ts'
import { type RuleErrors, withRules } from '../domain/rules.ts'
import { TimestampSchema } from '../domain/schemas.ts'
import { ApiError, ConflictError, ValidationError } from '../http/errors.ts'
import { page } from '../http/pagination.ts'
import type { Task } from '../tasks/schemas.ts'
import { TASK_COLUMNS } from '../tasks/service.ts'
import { syncChecklist } from './checklist.ts'
import { MAX_NOTE_BYTES, type Note, type NoteCreate, type NoteListQuery, type NoteUpdate } from './schemas.ts'
import { jsonbTextBytes } from './size.ts'

export const NOTE_COLUMNS = [
  'id',
  'user_id',
  'parent_id',
  'title',
  'content',
  'is_archived',
  'is_pinned',
  'metadata',
  'created_at',
  'updated_at',
] as const

export type NoteRow = Note & { content: Block[] }

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
    throw new ApiError('payload_too_large', `A note's content may be at most ${MAX_NOTE_BYTES} bytes`)
  }
}

/** The list's keyset position: after (is_pinned, updated_at, id), all descending. */
const ListPosition = z.tuple([z.boolean(), TimestampSchema, z.uuid()])
/** A note's tasks in creation order: after (created_at, id). */
const TaskPosition = z.tuple([TimestampSchema, z.uuid()])

export async function listNotes({ ctx, input }: { ctx: ServiceContext; input: NoteListQuery }) {
  const after = readCursor(input.cursor, ListPosition)
  const rows = await withUser(
    ctx.claims,
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
}

export async function getNote({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: { id: string }
}): Promise<NoteRow> {
  return getRow(ctx, NOTES, input.id)
}

export async function createNote({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: NoteCreate
}): Promise<NoteRow> {
  checkSize(input.content)
  return withRules(rules, () =>
    withUser(
      ctx.claims,
      async (tx) => {
        const [row] = await tx<NoteRow[]>`
          insert into public.notes (user_id, parent_id, title, content, is_archived, is_pinned, metadata)
          values (${ctx.userId}, ${input.parent_id}, ${input.title}, ${jsonParam(tx, input.content)},
                  ${input.is_archived}, ${input.is_pinned}, ${jsonParam(tx, input.metadata)})
          returning ${tx(NOTE_COLUMNS)}`
        // A new note has no tasks yet: only a checklist needs the sync.
        if (checklistItems(row.content).length > 0) await syncChecklist(tx, ctx.userId, row.id, row.content)
        return row
      },
      ctx.tx,
    ),
  )
}

/** Changes the fields given; new content re-syncs the note's checklist tasks in the same transaction. */
export async function updateNote({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: RowChange<NoteUpdate>
}): Promise<NoteRow> {
  checkSize(input.changes.content)
  return withRules(rules, () =>
    withUser(
      ctx.claims,
      async (tx) => {
        const row = await updateRow(tx, NOTES, input)
        if (input.changes.content !== undefined) await syncChecklist(tx, ctx.userId, row.id, row.content)
        return row
      },
      ctx.tx,
    ),
  )
}

/** Deletes the note, its sub-notes (the foreign key cascades) and their checklist tasks. */
export async function deleteNote({ ctx, input }: { ctx: ServiceContext; input: RowVersion }): Promise<void> {
  await withUser(ctx.claims, (tx) => deleteRow(tx, NOTES, input), ctx.tx)
}

/** The tasks of a note's checklist, in the order they were created. */
export async function listNoteTasks({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: { id: string; limit: number; cursor?: string }
}) {
  const after = readCursor(input.cursor, TaskPosition)
  const rows = await withUser(
    ctx.claims,
    async (tx) => {
      const tasks = await tx<Task[]>`
        select ${tx(TASK_COLUMNS)} from public.tasks
        where user_id = ${ctx.userId} and note_id = ${input.id}
          ${after ? tx`and (created_at, id) > (${after[0]}::timestamptz, ${after[1]}::uuid)` : tx``}
        order by created_at, id
        limit ${input.limit + 1}`
      if (tasks.length === 0 && !(await selectRow(tx, NOTES, input.id))) throw NOTES.notFound()
      return tasks
    },
    ctx.tx,
  )
  return page(rows, input.limit, (row) => [row.created_at, row.id])
}
