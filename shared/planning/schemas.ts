import { z } from '@hono/zod-openapi'
import { listQuerySchema, searchQuery } from '../core/pages.ts'
import { DateSchema, listOf, MetadataSchema, rowChangeSchema, TimestampSchema } from '../core/schemas.ts'

/** From longest to shortest, as the database enum orders them: a parent's is never after its child's. */
export const GOAL_TIMEFRAMES = ['life', 'yearly', 'quarterly', 'monthly', 'weekly', 'daily'] as const
export const GOAL_STATUSES = ['not_started', 'in_progress', 'completed', 'abandoned'] as const
export const GOAL_PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const
export const REFLECTION_TYPES = ['daily', 'weekly', 'monthly', 'quarterly', 'yearly', 'freeform'] as const

export const GoalTimeframeSchema = z.enum(GOAL_TIMEFRAMES).openapi('GoalTimeframe')
export const GoalStatusSchema = z.enum(GOAL_STATUSES).openapi('GoalStatus')
export const GoalPrioritySchema = z.enum(GOAL_PRIORITIES).openapi('GoalPriority')
export const ReflectionTypeSchema = z.enum(REFLECTION_TYPES).openapi('ReflectionType')

export const GoalSchema = z
  .object({
    id: z.uuid(),
    user_id: z.uuid(),
    parent_goal_id: z.uuid().nullable(),
    title: z.string(),
    description: z.string().nullable(),
    timeframe: GoalTimeframeSchema,
    status: GoalStatusSchema,
    progress: z.number().int().min(0).max(100),
    priority: GoalPrioritySchema,
    due_date: DateSchema.nullable(),
    metadata: z.record(z.string(), z.unknown()),
    created_at: TimestampSchema,
    updated_at: TimestampSchema.openapi({ description: 'Also the ETag' }),
  })
  .openapi('Goal')

export const GoalWithSubGoalsSchema = GoalSchema.extend({
  sub_goals: z.array(GoalSchema).openapi({ description: 'The direct sub-goals, oldest first' }),
}).openapi('GoalWithSubGoals')

const goalFields = {
  title: z.string().trim().min(1).max(500),
  description: z.string().max(100_000).nullable(),
  timeframe: GoalTimeframeSchema,
  status: GoalStatusSchema,
  progress: z.number().int().min(0).max(100),
  priority: GoalPrioritySchema,
  due_date: DateSchema.nullable(),
  parent_goal_id: z
    .uuid()
    .nullable()
    .openapi({ description: 'The parent goal, whose timeframe must be at least as long; or null' }),
  metadata: MetadataSchema,
}

export const GoalCreateSchema = z
  .strictObject({
    ...goalFields,
    description: goalFields.description.default(null),
    status: goalFields.status.default('not_started'),
    progress: goalFields.progress.default(0),
    priority: goalFields.priority.default('medium'),
    due_date: goalFields.due_date.default(null),
    parent_goal_id: goalFields.parent_goal_id.default(null),
    metadata: goalFields.metadata.default({}),
  })
  .openapi('GoalCreate')

/** A partial update: only the fields given change; unknown fields are refused. */
export const GoalUpdateSchema = z.strictObject(goalFields).partial().openapi('GoalUpdate')

export const GoalListQuerySchema = listQuerySchema.extend({
  timeframe: listOf(GoalTimeframeSchema).optional().openapi({ description: 'One or more timeframes' }),
  status: listOf(GoalStatusSchema).optional().openapi({ description: 'One or more statuses' }),
  parent_goal_id: z
    .union([z.uuid(), z.literal('root')])
    .optional()
    .openapi({ description: 'Sub-goals of this goal, or `root` for top-level goals' }),
  q: searchQuery('title and description'),
})

export const ReflectionSchema = z
  .object({
    id: z.uuid(),
    user_id: z.uuid(),
    reflection_type: ReflectionTypeSchema,
    title: z.string().nullable(),
    content: z.string(),
    mood: z.number().int().min(1).max(5).nullable(),
    metadata: z.record(z.string(), z.unknown()),
    created_at: TimestampSchema,
    updated_at: TimestampSchema.openapi({ description: 'Also the ETag' }),
  })
  .openapi('Reflection')

export const ReflectionCreateSchema = z
  .strictObject({
    reflection_type: ReflectionTypeSchema,
    title: z.string().trim().max(500).nullable().default(null),
    content: z.string().min(1).max(100_000),
    mood: z
      .number()
      .int()
      .min(1)
      .max(5)
      .nullable()
      .default(null)
      .openapi({ description: '1 (low) to 5 (high)' }),
    metadata: MetadataSchema.default({}),
  })
  .openapi('ReflectionCreate')

/** A bound of the created_at range: a timestamp, or a whole UTC day. */
const Bound = z.union([z.iso.datetime({ offset: true }), DateSchema])

export const ReflectionListQuerySchema = listQuerySchema.extend({
  reflection_type: listOf(ReflectionTypeSchema).optional().openapi({ description: 'One or more types' }),
  from: Bound.optional().openapi({
    description: 'Created at or after this time (a date: from its start, UTC)',
  }),
  to: Bound.optional().openapi({ description: 'Created at or before this time (a date: to its end, UTC)' }),
})

export const GoalChangeSchema = rowChangeSchema(GoalUpdateSchema)

export type Goal = z.infer<typeof GoalSchema>
export type GoalWithSubGoals = z.infer<typeof GoalWithSubGoalsSchema>
export type GoalCreate = z.infer<typeof GoalCreateSchema>
export type GoalUpdate = z.infer<typeof GoalUpdateSchema>
export type GoalListQuery = z.infer<typeof GoalListQuerySchema>
export type Reflection = z.infer<typeof ReflectionSchema>
export type ReflectionCreate = z.infer<typeof ReflectionCreateSchema>
export type ReflectionListQuery = z.infer<typeof ReflectionListQuerySchema>
