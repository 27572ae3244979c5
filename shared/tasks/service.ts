import { z } from '@hono/zod-openapi'
import { type ServiceContext, type Tx, withUser } from '../db/with-user.ts'
import { columnValues, givenColumns, jsonParam } from '../domain/columns.ts'
import { readCursor } from '../domain/cursor.ts'
import { deleteRow, getRow, type RowChange, type RowVersion, rowTable } from '../domain/rows.ts'
import { type RuleErrors, withRules } from '../domain/rules.ts'
import { DateSchema, TimestampSchema } from '../domain/schemas.ts'
import { matchesVersion, refuseMissingOrStale } from '../http/concurrency.ts'
import { ConflictError, ValidationError } from '../http/errors.ts'
import { page } from '../http/pagination.ts'
import { reflectTaskState, removeTaskBlocks } from '../notes/checklist.ts'
import {
  TASK_PRIORITIES,
  type Task,
  type TaskCreate,
  type TaskListQuery,
  type TaskOrigin,
  type TaskStatus,
  type TaskUpdate,
} from './schemas.ts'

export const TASK_COLUMNS = [
  'id',
  'user_id',
  'parent_id',
  'note_id',
  'title',
  'description',
  'status',
  'priority',
  'due_date',
  'due_time',
  'source',
  'source_reference',
  'completed_at',
  'edited_by_user',
  'metadata',
  'created_at',
  'updated_at',
] as const

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

export async function listTasks({ ctx, input }: { ctx: ServiceContext; input: TaskListQuery }) {
  const sort = SORTS[input.sort]
  const order = input.order ?? sort.natural
  // The cursor names its sort and direction, so it cannot be replayed against another order.
  const cursor = readCursor(input.cursor, z.tuple([z.literal(input.sort), z.literal(order)]).rest(z.string()))
  const after = cursor && sort.position.safeParse(cursor.slice(2))
  if (after && !after.success)
    throw new ValidationError([{ path: 'cursor', message: 'The cursor is not valid' }])
  const rows = await withUser(
    ctx.claims,
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
}

export async function getTask({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<Task> {
  return getRow(ctx, TASKS, input.id)
}

/** Creates a task; one created done is completed now. Agents pass their origin; the API makes manual tasks. */
export async function createTask({
  ctx,
  input,
  origin = { source: 'manual' },
}: {
  ctx: ServiceContext
  input: TaskCreate
  origin?: TaskOrigin
}): Promise<Task> {
  return withRules(rules, () =>
    withUser(
      ctx.claims,
      async (tx) => {
        const [row] = await tx<Task[]>`
          insert into public.tasks (user_id, parent_id, title, description, status, priority, due_date, due_time,
                                    source, source_reference, completed_at, metadata)
          values (${ctx.userId}, ${input.parent_id}, ${input.title}, ${input.description}, ${input.status},
                  ${input.priority}, ${input.due_date}, ${input.due_time}, ${origin.source},
                  ${origin.source === 'agent' ? jsonParam(tx, origin.source_reference) : null},
                  ${input.status === 'done' ? tx`now()` : null}, ${jsonParam(tx, input.metadata)})
          returning ${tx(TASK_COLUMNS)}`
        return row
      },
      ctx.tx,
    ),
  )
}

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
 * Changes the fields given. Any change besides the status marks the task as edited by the user, so
 * a checklist task keeps its title when its note is saved again; a status change reaches the note.
 */
export async function updateTask({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: RowChange<TaskUpdate>
}): Promise<Task> {
  const { id, expected } = input
  const { status, ...fields } = input.changes
  // Any change besides the status is the user's edit, which later checklist syncs respect.
  const edit = givenColumns(fields).length > 0 ? { ...fields, edited_by_user: true } : {}
  const columns = givenColumns(edit)
  return withRules(rules, () =>
    withUser(
      ctx.claims,
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
}

/** PUT tasks/{id}/status: the status alone (completed_at set or cleared), reflected in a checklist. */
export async function setTaskStatus({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: { id: string; status: TaskStatus; expected?: string[] }
}): Promise<Task> {
  return updateTask({
    ctx,
    input: { id: input.id, changes: { status: input.status }, expected: input.expected },
  })
}

/** Deletes the task and its subtasks; checklist tasks among them take their blocks out of their notes. */
export async function deleteTask({ ctx, input }: { ctx: ServiceContext; input: RowVersion }): Promise<void> {
  await withUser(
    ctx.claims,
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
}
