import { z } from '@hono/zod-openapi'
import { reflectTaskState, removeTaskBlocks } from '../checklist/service.ts'
import { provenanceOf, type Tx, userEdit } from '../core/context.ts'
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.ts'
import { page, readCursor } from '../core/pages.ts'
import { columnsOf, DateSchema, IdInputSchema, RowVersionSchema, TimestampSchema } from '../core/schemas.ts'
import { defineVerb } from '../core/verb.ts'
import { columnValues, givenColumns, jsonParam } from '../db/columns.ts'
import { deleteRow, getRow, rowTable } from '../db/rows.ts'
import { type RuleErrors, withRules } from '../db/rules.ts'
import { matchesVersion, refuseMissingOrStale } from '../db/versions.ts'
import { withUser, withUserStatement } from '../db/with-user.ts'
import {
  MAX_BULK_TASKS,
  TASK_PRIORITIES,
  type Task,
  TaskBulkChangeSchema,
  TaskChangeSchema,
  TaskCreateSchema,
  TaskListQuerySchema,
  NoteTasksQuerySchema,
  TaskSchema,
  type TaskSelection,
  TaskSelectionSchema,
  type TaskStatus,
  TaskStatusInputSchema,
} from './schemas.ts'

const TASK_COLUMNS = columnsOf(TaskSchema)

const TASKS = rowTable<Task>('tasks', TASK_COLUMNS, 'No such task')

const rules: RuleErrors = {
  tasks_parent_fkey: () => new ValidationError([{ path: 'parent_id', message: 'No such task' }]),
  tasks_not_own_parent: () => new ConflictError('A task cannot be its own parent'),
  tasks_no_cycles: () =>
    new ConflictError('A task cannot be a subtask of itself or of one of its own subtasks'),
  tasks_due_time_needs_due_date: () =>
    new ValidationError([{ path: 'due_time', message: 'A due time needs a due date' }]),
}

// Each sort is a keyset over an index (supabase/migrations/20261125001000_domain_rules.sql): the
// key's SQL, its natural direction, the cursor's shape and the key of a row. Dateless tasks sort
// as 'infinity', timeless ones as 24:00, so one row comparison pages through all of them.
const SORTS = {
  created_at: {
    columns: ['created_at', 'id'],
    natural: 'desc',
    position: z.tuple([TimestampSchema, z.uuid()]),
    cast: (tx: Tx, [createdAt, id]: string[]) => tx`(${createdAt}::timestamptz, ${id}::uuid)`,
    of: (task: Task) => [task.created_at, task.id],
  },
  due_date: {
    columns: [`coalesce(due_date, 'infinity'::date)`, `coalesce(due_time, '24:00'::time)`, 'id'],
    natural: 'asc',
    position: z.tuple([
      z.union([DateSchema, z.literal('infinity')]),
      z.union([z.iso.time(), z.literal('24:00:00')]),
      z.uuid(),
    ]),
    cast: (tx: Tx, [date, time, id]: string[]) => tx`(${date}::date, ${time}::time, ${id}::uuid)`,
    of: (task: Task) => [task.due_date ?? 'infinity', task.due_time ?? '24:00:00', task.id],
  },
  priority: {
    columns: ['priority', 'created_at', 'id'],
    natural: 'desc',
    position: z.tuple([z.enum(TASK_PRIORITIES), TimestampSchema, z.uuid()]),
    cast: (tx: Tx, [priority, createdAt, id]: string[]) =>
      tx`(${priority}::public.task_priority, ${createdAt}::timestamptz, ${id}::uuid)`,
    of: (task: Task) => [task.priority, task.created_at, task.id],
  },
} as const

export const listTasks = defineVerb('tasks.list', TaskListQuerySchema, async ({ ctx, input }) => {
  const sort = SORTS[input.sort]
  const order = input.order ?? sort.natural
  // The cursor names its sort and direction, so it cannot be replayed against another order.
  const cursor = readCursor(input.cursor, z.tuple([z.literal(input.sort), z.literal(order)]).rest(z.string()))
  const after = cursor && sort.position.safeParse(cursor.slice(2))
  if (after && !after.success)
    throw new ValidationError([{ path: 'cursor', message: 'The cursor is not valid' }])
  const rows = await withUserStatement(
    ctx,
    (tx) => {
      const key = tx.unsafe(sort.columns.join(', '))
      const keyOrder = tx.unsafe(sort.columns.map((column) => `${column} ${order}`).join(', '))
      return tx<Task[]>`
        select ${tx(TASK_COLUMNS)} from public.tasks
        where user_id = ${ctx.userId}
          ${input.status ? tx`and status = any(${input.status}::public.task_status[])` : tx``}
          ${input.priority ? tx`and priority = any(${input.priority}::public.task_priority[])` : tx``}
          ${input.source ? tx`and source = any(${input.source}::public.task_source[])` : tx``}
          ${input.due_before ? tx`and due_date < ${input.due_before}::date` : tx``}
          ${input.due_after ? tx`and due_date > ${input.due_after}::date` : tx``}
          ${input.parent_id === 'root' ? tx`and parent_id is null` : input.parent_id ? tx`and parent_id = ${input.parent_id}` : tx``}
          ${input.q ? tx`and search @@ websearch_to_tsquery('simple', ${input.q})` : tx``}
          ${after?.success ? tx`and (${key}) ${tx.unsafe(order === 'asc' ? '>' : '<')} ${sort.cast(tx, after.data as string[])}` : tx``}
        order by ${keyOrder}
        limit ${input.limit + 1}`
    },
    ctx.tx,
  )
  return page(rows, input.limit, (row) => [input.sort, order, ...sort.of(row)])
})

export const getTask = defineVerb('tasks.get', IdInputSchema, ({ ctx, input }) =>
  getRow(ctx, TASKS, input.id),
)

/** Creates a task (recording who made it); one created done is completed now. */
export const createTask = defineVerb('tasks.create', TaskCreateSchema, async ({ ctx, input }) => {
  const { source, source_reference } = provenanceOf(ctx.actor)
  return withRules(rules, async () => {
    const [row] = await withUserStatement(
      ctx,
      (tx) => tx<Task[]>`
          insert into public.tasks (user_id, parent_id, title, description, status, priority, due_date, due_time,
                                    source, source_reference, completed_at, metadata)
          values (${ctx.userId}, ${input.parent_id}, ${input.title}, ${input.description}, ${input.status},
                  ${input.priority}, ${input.due_date}, ${input.due_time}, ${source},
                  ${source_reference && jsonParam(tx, source_reference)},
                  ${input.status === 'done' ? tx`now()` : null}, ${jsonParam(tx, input.metadata)})
          returning ${tx(TASK_COLUMNS)}`,
      ctx.tx,
    )
    return row
  })
})

/** A status change that also sets completed_at (now, when first done) or clears it. */
const statusChange = (tx: Tx, status: TaskStatus) =>
  tx`status = ${status}, completed_at = ${status === 'done' ? tx`coalesce(completed_at, now())` : null}`

/** A checklist task's done/todo state goes back into its note's block. */
async function reflectInNote(tx: Tx, task: Task): Promise<void> {
  const blockId = task.source_reference?.block_id
  if (task.source === 'note' && task.note_id && typeof blockId === 'string') {
    await reflectTaskState(tx, task.note_id, blockId, task.status === 'done')
  }
}

/**
 * Changes the fields given. A user's change besides the status marks the task as edited by the
 * user, so a checklist task keeps its title when its note is saved again; a status change reaches
 * the note.
 */
export const updateTask = defineVerb('tasks.update', TaskChangeSchema, async ({ ctx, input }) => {
  const { id, expected } = input
  const { status, ...fields } = input.changes
  // A user's change besides the status is their edit, which later checklist syncs respect.
  const edit = userEdit(ctx.actor, fields)
  const columns = givenColumns(edit)
  return withRules(rules, () =>
    withUser(
      ctx,
      async (tx) => {
        const change = status ? statusChange(tx, status) : undefined
        // postgres.js writes `col = value, …` for the helper only right after the word `set`.
        const [row] =
          columns.length > 0
            ? await tx<Task[]>`
                update public.tasks set ${tx(columnValues(tx, edit), columns)} ${change ? tx`, ${change}` : tx``}
                where id = ${id} and ${matchesVersion(tx, expected)}
                returning ${tx(TASK_COLUMNS)}`
            : change
              ? await tx<Task[]>`
                  update public.tasks set ${change}
                  where id = ${id} and ${matchesVersion(tx, expected)}
                  returning ${tx(TASK_COLUMNS)}`
              : await tx<Task[]>`
                  select ${tx(TASK_COLUMNS)} from public.tasks where id = ${id} and ${matchesVersion(tx, expected)}`
        if (!row) return refuseMissingOrStale(tx, TASKS.name, id, TASKS.notFound)
        if (status) await reflectInNote(tx, row)
        return row
      },
      ctx.tx,
    ),
  )
})

/** The status alone (completed_at set or cleared), reflected in a checklist. */
export const setTaskStatus = defineVerb('tasks.set_status', TaskStatusInputSchema, ({ ctx, input }) =>
  updateTask.trusted({ ctx, input }),
)

/** The condition of a bulk selection: the tasks named, or those matching the filter. */
function selectionWhere(tx: Tx, selection: TaskSelection) {
  if (selection.ids) return tx`id = any(${selection.ids}::uuid[])`
  const filter = selection.filter ?? {}
  return tx`true
    ${filter.status ? tx`and status = any(${filter.status}::public.task_status[])` : tx``}
    ${filter.priority ? tx`and priority = any(${filter.priority}::public.task_priority[])` : tx``}
    ${filter.due_date ? tx`and due_date = ${filter.due_date}::date` : tx``}
    ${filter.due_before ? tx`and due_date < ${filter.due_before}::date` : tx``}
    ${filter.due_after ? tx`and due_date > ${filter.due_after}::date` : tx``}`
}

const tooMany = () =>
  new ValidationError([
    { path: 'filter', message: `More than ${MAX_BULK_TASKS} tasks match; narrow the filter` },
  ])

/** A task as a bulk selection lists it. */
export interface SelectedTask {
  id: string
  title: string
  status: TaskStatus
  due_date: string | null
}

/**
 * The user's tasks a bulk change would be for, by due date (at most MAX_BULK_TASKS; more matching
 * a filter is the same validation error the change gives), and the named ids that are not theirs.
 */
export const selectTasks = defineVerb('tasks.select', TaskSelectionSchema, async ({ ctx, input }) => {
  const rows = await withUserStatement(
    ctx,
    (tx) => tx<SelectedTask[]>`
      select id, title, status, due_date from public.tasks
      where user_id = ${ctx.userId} and ${selectionWhere(tx, input)}
      order by due_date nulls last, created_at, id
      limit ${MAX_BULK_TASKS + 1}`,
    ctx.tx,
  )
  if (rows.length > MAX_BULK_TASKS) throw tooMany()
  const found = new Set(rows.map((row) => row.id))
  return { tasks: rows, not_found: (input.ids ?? []).filter((id) => !found.has(id)) }
})

/**
 * One change to many of the user's tasks (by ids or a filter, at most MAX_BULK_TASKS), in one short
 * transaction: the rows are locked, changed and returned; status changes reach their checklists.
 * Ids that are not the user's are answered as not found, and change nothing.
 */
export const updateTasks = defineVerb('tasks.update_many', TaskBulkChangeSchema, async ({ ctx, input }) => {
  const { status, ...fields } = input.changes
  const edit = userEdit(ctx.actor, fields)
  const columns = givenColumns(edit)
  return withRules(rules, () =>
    withUser(
      ctx,
      async (tx) => {
        const targets = await tx<{ id: string }[]>`
          select id from public.tasks
          where user_id = ${ctx.userId} and ${selectionWhere(tx, input)}
          order by id limit ${MAX_BULK_TASKS + 1}
          for update`
        if (targets.length > MAX_BULK_TASKS) throw tooMany()
        const ids = targets.map((target) => target.id)
        // The schema asks for at least one change: fields, a status, or both.
        const change = status ? statusChange(tx, status) : undefined
        const rows =
          ids.length === 0
            ? []
            : columns.length > 0
              ? await tx<Task[]>`
                  update public.tasks set ${tx(columnValues(tx, edit), columns)} ${change ? tx`, ${change}` : tx``}
                  where id = any(${ids}::uuid[])
                  returning ${tx(TASK_COLUMNS)}`
              : await tx<Task[]>`
                  update public.tasks set ${change as NonNullable<typeof change>}
                  where id = any(${ids}::uuid[])
                  returning ${tx(TASK_COLUMNS)}`
        if (status) for (const row of rows) await reflectInNote(tx, row)
        rows.sort(
          (a, b) => (a.due_date ?? '9999').localeCompare(b.due_date ?? '9999') || a.id.localeCompare(b.id),
        )
        const found = new Set(ids)
        return { updated: rows, not_found: (input.ids ?? []).filter((id) => !found.has(id)) }
      },
      ctx.tx,
    ),
  )
})

/** A task and all its subtasks (what deleting it deletes), the task first; not found if it is not the user's. */
export const taskSubtree = defineVerb('tasks.subtree', IdInputSchema, async ({ ctx, input }) => {
  const rows = await withUserStatement(
    ctx,
    (tx) => tx<{ id: string; title: string; depth: number }[]>`
      with recursive subtree as (
        select id, title, 0 as depth from public.tasks where user_id = ${ctx.userId} and id = ${input.id}
        union all
        select t.id, t.title, s.depth + 1
        from public.tasks t join subtree s on t.user_id = ${ctx.userId} and t.parent_id = s.id
      )
      select id, title, depth from subtree order by depth, title, id`,
    ctx.tx,
  )
  if (rows.length === 0) throw TASKS.notFound()
  return rows.map(({ id, title }) => ({ id, title }))
})

/** Deletes the task and its subtasks; checklist tasks among them take their blocks out of their notes. */
export const deleteTask = defineVerb('tasks.delete', RowVersionSchema, async ({ ctx, input }) => {
  await withUser(
    ctx,
    async (tx) => {
      // Read before the delete: the subtasks it cascades to are not returned by it.
      const checklistTasks = await tx<{ note_id: string; block_id: string }[]>`
        with recursive subtree as (
          select id, note_id, source, source_reference from public.tasks where id = ${input.id}
          union all
          select t.id, t.note_id, t.source, t.source_reference
          from public.tasks t join subtree s on t.user_id = ${ctx.userId} and t.parent_id = s.id
        )
        select note_id, source_reference ->> 'block_id' as block_id
        from subtree where source = 'note' and note_id is not null`
      await deleteRow(tx, TASKS, input)
      const blocksByNote = new Map<string, string[]>()
      for (const { note_id, block_id } of checklistTasks) {
        blocksByNote.set(note_id, [...(blocksByNote.get(note_id) ?? []), block_id])
      }
      for (const [noteId, blockIds] of blocksByNote) await removeTaskBlocks(tx, noteId, blockIds)
    },
    ctx.tx,
  )
})

/** A note's tasks in creation order: after (created_at, id). */
const TaskPosition = z.tuple([TimestampSchema, z.uuid()])

/** The tasks of a note's checklist, in the order they were created. */
export const listNoteTasks = defineVerb(
  'tasks.list_for_note',
  NoteTasksQuerySchema,
  async ({ ctx, input }) => {
    const after = readCursor(input.cursor, TaskPosition)
    const rows = await withUser(
      ctx,
      async (tx) => {
        const tasks = await tx<Task[]>`
        select ${tx(TASK_COLUMNS)} from public.tasks
        where user_id = ${ctx.userId} and note_id = ${input.id}
          ${after ? tx`and (created_at, id) > (${after[0]}::timestamptz, ${after[1]}::uuid)` : tx``}
        order by created_at, id
        limit ${input.limit + 1}`
        if (tasks.length === 0) {
          const [note] = await tx`select 1 from public.notes where id = ${input.id}`
          if (!note) throw new NotFoundError('No such note')
        }
        return tasks
      },
      ctx.tx,
    )
    return page(rows, input.limit, (row) => [row.created_at, row.id])
  },
)
