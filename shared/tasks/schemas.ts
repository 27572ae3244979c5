import { z } from '@hono/zod-openapi'
import { listQuerySchema, searchQuery } from '../core/pages.ts'
import {
  DateSchema,
  IdInputSchema,
  listOf,
  MetadataSchema,
  rowChangeSchema,
  TimestampSchema,
} from '../core/schemas.ts'

export const TASK_STATUSES = ['todo', 'in_progress', 'done', 'cancelled'] as const
/** From least to most urgent, as the database enum orders them. */
export const TASK_PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const
export const TASK_SOURCES = ['manual', 'note', 'agent'] as const

export const TaskStatusSchema = z.enum(TASK_STATUSES).openapi('TaskStatus')
export const TaskPrioritySchema = z.enum(TASK_PRIORITIES).openapi('TaskPriority')
export const TaskSourceSchema = z.enum(TASK_SOURCES).openapi('TaskSource')

export const TaskSchema = z
  .object({
    id: z.uuid(),
    user_id: z.uuid(),
    parent_id: z.uuid().nullable(),
    note_id: z.uuid().nullable().openapi({ description: 'The note whose checklist item this task mirrors' }),
    title: z.string(),
    description: z.string().nullable(),
    status: TaskStatusSchema,
    priority: TaskPrioritySchema,
    due_date: DateSchema.nullable(),
    due_time: z.string().nullable().openapi({ example: '14:30:00' }),
    source: TaskSourceSchema,
    source_reference: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ description: '{note_id, block_id} for a checklist item; {message_id} for an agent’s task' }),
    completed_at: TimestampSchema.nullable(),
    edited_by_user: z
      .boolean()
      .openapi({ description: 'Changed through the tasks API; saving its note no longer renames it' }),
    metadata: z.record(z.string(), z.unknown()),
    created_at: TimestampSchema,
    updated_at: TimestampSchema.openapi({ description: 'Also the ETag' }),
  })
  .openapi('Task')

const taskFields = {
  title: z.string().trim().min(1).max(500),
  description: z.string().max(100_000).nullable(),
  status: TaskStatusSchema,
  priority: TaskPrioritySchema,
  due_date: DateSchema.nullable(),
  due_time: z.iso.time().nullable().openapi({ description: 'HH:MM or HH:MM:SS; needs a due_date' }),
  parent_id: z.uuid().nullable().openapi({ description: 'The parent task (subtasks), or null' }),
  metadata: MetadataSchema,
}

const dueTimeNeedsDueDate = {
  check: (task: { due_date?: string | null; due_time?: string | null }) => !task.due_time || !!task.due_date,
  message: { path: ['due_time'], message: 'A due time needs a due date' },
}

export const TaskCreateSchema = z
  .strictObject({
    ...taskFields,
    description: taskFields.description.default(null),
    status: taskFields.status.default('todo'),
    priority: taskFields.priority.default('medium'),
    due_date: taskFields.due_date.default(null),
    due_time: taskFields.due_time.default(null),
    parent_id: taskFields.parent_id.default(null),
    metadata: taskFields.metadata.default({}),
  })
  .refine(dueTimeNeedsDueDate.check, dueTimeNeedsDueDate.message)
  .openapi('TaskCreate')

/**
 * A partial update: only the fields given change; unknown fields are refused. A due time given
 * with `due_date: null` is refused here; one given alone is checked against the stored due date.
 */
export const TaskUpdateSchema = z
  .strictObject(taskFields)
  .partial()
  .refine((task) => !(task.due_time && task.due_date === null), dueTimeNeedsDueDate.message)
  .openapi('TaskUpdate')

export const TaskStatusChangeSchema = z.strictObject({ status: TaskStatusSchema }).openapi('TaskStatusChange')

export const TASK_SORTS = ['created_at', 'due_date', 'priority'] as const

export const TaskListQuerySchema = listQuerySchema.extend({
  status: listOf(TaskStatusSchema).optional().openapi({ description: 'One or more statuses' }),
  priority: listOf(TaskPrioritySchema).optional().openapi({ description: 'One or more priorities' }),
  due_before: DateSchema.optional().openapi({ description: 'Due strictly before this date' }),
  due_after: DateSchema.optional().openapi({ description: 'Due strictly after this date' }),
  parent_id: z
    .union([z.uuid(), z.literal('root')])
    .optional()
    .openapi({ description: 'Subtasks of this task, or `root` for top-level tasks' }),
  source: listOf(TaskSourceSchema).optional(),
  q: searchQuery('title and description'),
  sort: z.enum(TASK_SORTS).default('created_at').openapi({
    description:
      'created_at (newest first), due_date (soonest first, undated last) or priority (most urgent first)',
  }),
  order: z
    .enum(['asc', 'desc'])
    .optional()
    .openapi({ description: 'Default: desc for created_at and priority, asc for due_date' }),
})

/** The input of listing a note's checklist tasks: the note (its id), and the page. */
export const NoteTasksQuerySchema = listQuerySchema.extend(IdInputSchema.shape)

export const TaskChangeSchema = rowChangeSchema(TaskUpdateSchema)
export const TaskStatusInputSchema = rowChangeSchema(TaskStatusChangeSchema)

/** At most this many tasks change in one bulk call (a filter matching more is refused: narrow it). */
export const MAX_BULK_TASKS = 100

/** Which tasks a bulk change is for: the ones named, or those matching a filter (the user's only). */
export const TaskFilterSchema = z
  .strictObject({
    status: z.array(TaskStatusSchema).min(1).max(4).optional(),
    priority: z.array(TaskPrioritySchema).min(1).max(4).optional(),
    due_date: DateSchema.optional().openapi({ description: 'Due on this date' }),
    due_before: DateSchema.optional().openapi({ description: 'Due strictly before this date' }),
    due_after: DateSchema.optional().openapi({ description: 'Due strictly after this date' }),
  })
  .refine((filter) => Object.values(filter).some((value) => value !== undefined), {
    message: 'A filter names at least one of status, priority, due_date, due_before, due_after',
  })
  .openapi('TaskFilter')

const selection = {
  ids: z
    .array(z.uuid())
    .min(1)
    .max(MAX_BULK_TASKS)
    .optional()
    .openapi({ description: `The tasks, by id (at most ${MAX_BULK_TASKS})` }),
  filter: TaskFilterSchema.optional().openapi({ description: 'Or: every task matching this' }),
}

const oneSelection = {
  check: (input: { ids?: unknown; filter?: unknown }) =>
    (input.ids === undefined) !== (input.filter === undefined),
  message: { path: ['ids'], message: 'Give either ids or filter' },
}

/** What a bulk change may set: the status, priority and due date and time. */
export const TaskBulkUpdateSchema = z
  .strictObject({
    status: taskFields.status,
    priority: taskFields.priority,
    due_date: taskFields.due_date,
    due_time: taskFields.due_time,
  })
  .partial()
  .refine((changes) => Object.values(changes).some((value) => value !== undefined), {
    message: 'Give at least one change',
  })
  .refine((task) => !(task.due_time && task.due_date === null), dueTimeNeedsDueDate.message)
  .openapi('TaskBulkUpdate')

/** Tasks by id or filter (e.g. for a preview of a bulk change). */
export const TaskSelectionSchema = z
  .strictObject(selection)
  .refine(oneSelection.check, oneSelection.message)
  .openapi('TaskSelection')

/** One change to many tasks: `{ids | filter, changes}`. */
export const TaskBulkChangeSchema = z
  .strictObject({ ...selection, changes: TaskBulkUpdateSchema })
  .refine(oneSelection.check, oneSelection.message)
  .openapi('TaskBulkChange')

export type Task = z.infer<typeof TaskSchema>
export type TaskCreate = z.infer<typeof TaskCreateSchema>
export type TaskUpdate = z.infer<typeof TaskUpdateSchema>
export type TaskListQuery = z.infer<typeof TaskListQuerySchema>
export type TaskStatus = z.infer<typeof TaskStatusSchema>
export type TaskSelection = z.infer<typeof TaskSelectionSchema>
export type TaskBulkChange = z.infer<typeof TaskBulkChangeSchema>
