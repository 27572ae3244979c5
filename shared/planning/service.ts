import { z } from '@hono/zod-openapi'
import { provenanceOf, userEdit } from '../core/context.ts'
import { ConflictError, ValidationError } from '../core/errors.ts'
import { page, readCursor } from '../core/pages.ts'
import { columnsOf, IdInputSchema, RowVersionSchema, TimestampSchema } from '../core/schemas.ts'
import { defineVerb } from '../core/verb.ts'
import { jsonParam } from '../db/columns.ts'
import { deleteRow, getRow, rowTable, selectRow, updateRow } from '../db/rows.ts'
import { type RuleErrors, withRules } from '../db/rules.ts'
import { withUser, withUserStatement } from '../db/with-user.ts'
import {
  type Goal,
  GoalChangeSchema,
  GoalCreateSchema,
  GoalListQuerySchema,
  GoalSchema,
  type Reflection,
  ReflectionCreateSchema,
  ReflectionListQuerySchema,
  ReflectionSchema,
} from './schemas.ts'

// Goals (a tree of them, by timeframe) and reflections.

const GOAL_COLUMNS = columnsOf(GoalSchema)
const REFLECTION_COLUMNS = columnsOf(ReflectionSchema)

const GOALS = rowTable<Goal>('goals', GOAL_COLUMNS, 'No such goal')

const rules: RuleErrors = {
  goals_parent_goal_fkey: () => new ValidationError([{ path: 'parent_goal_id', message: 'No such goal' }]),
  goals_not_own_parent: () => new ConflictError('A goal cannot be its own parent'),
  goals_no_cycles: () =>
    new ConflictError('A goal cannot be a sub-goal of itself or of one of its own sub-goals'),
  goals_timeframe_within_parent: () =>
    new ValidationError([
      {
        path: 'timeframe',
        message: 'A parent goal’s timeframe must be at least as long as each of its sub-goals’',
      },
    ]),
}

/** Goals and reflections list newest first: after (created_at, id), descending. */
const ListPosition = z.tuple([TimestampSchema, z.uuid()])

export const listGoals = defineVerb('goals.list', GoalListQuerySchema, async ({ ctx, input }) => {
  const after = readCursor(input.cursor, ListPosition)
  const rows = await withUserStatement(
    ctx,
    (tx) => tx<Goal[]>`
      select ${tx(GOAL_COLUMNS)} from public.goals
      where user_id = ${ctx.userId}
        ${input.timeframe ? tx`and timeframe = any(${input.timeframe}::public.goal_timeframe[])` : tx``}
        ${input.status ? tx`and status = any(${input.status}::public.goal_status[])` : tx``}
        ${input.parent_goal_id === 'root' ? tx`and parent_goal_id is null` : input.parent_goal_id ? tx`and parent_goal_id = ${input.parent_goal_id}` : tx``}
        ${input.q ? tx`and search @@ websearch_to_tsquery('simple', ${input.q})` : tx``}
        ${after ? tx`and (created_at, id) < (${after[0]}::timestamptz, ${after[1]}::uuid)` : tx``}
      order by created_at desc, id desc
      limit ${input.limit + 1}`,
    ctx.tx,
  )
  return page(rows, input.limit, (row) => [row.created_at, row.id])
})

/** A goal with its direct sub-goals, oldest first. */
export const getGoal = defineVerb('goals.get', IdInputSchema, ({ ctx, input }) =>
  withUser(
    ctx,
    async (tx) => {
      const goal = await selectRow(tx, GOALS, input.id)
      if (!goal) throw GOALS.notFound()
      const subGoals = await tx<Goal[]>`
        select ${tx(GOAL_COLUMNS)} from public.goals
        where user_id = ${ctx.userId} and parent_goal_id = ${input.id}
        order by created_at, id`
      return { ...goal, sub_goals: subGoals }
    },
    ctx.tx,
  ),
)

/** Creates a goal, recording who made it. */
export const createGoal = defineVerb('goals.create', GoalCreateSchema, async ({ ctx, input }) => {
  const { source, source_reference } = provenanceOf(ctx.actor)
  return withRules(rules, async () => {
    const [row] = await withUserStatement(
      ctx,
      (tx) => tx<Goal[]>`
          insert into public.goals (user_id, parent_goal_id, title, description, timeframe, status, progress,
                                    priority, due_date, metadata, source, source_reference)
          values (${ctx.userId}, ${input.parent_goal_id}, ${input.title}, ${input.description}, ${input.timeframe},
                  ${input.status}, ${input.progress}, ${input.priority}, ${input.due_date},
                  ${jsonParam(tx, input.metadata)}, ${source}, ${source_reference && jsonParam(tx, source_reference)})
          returning ${tx(GOAL_COLUMNS)}`,
      ctx.tx,
    )
    return row
  })
})

export const updateGoal = defineVerb('goals.update', GoalChangeSchema, ({ ctx, input }) =>
  withRules(rules, () =>
    withUser(
      ctx,
      (tx) => updateRow(tx, GOALS, { ...input, changes: userEdit(ctx.actor, input.changes) }),
      ctx.tx,
    ),
  ),
)

/** Deletes the goal; its sub-goals stay, as top-level goals (the foreign key sets their parent null). */
export const deleteGoal = defineVerb('goals.delete', RowVersionSchema, async ({ ctx, input }) => {
  await withUser(ctx, (tx) => deleteRow(tx, GOALS, input), ctx.tx)
})

const REFLECTIONS = rowTable<Reflection>('reflections', REFLECTION_COLUMNS, 'No such reflection')

const isDate = (bound: string) => /^\d{4}-\d\d-\d\d$/.test(bound)

export const listReflections = defineVerb(
  'reflections.list',
  ReflectionListQuerySchema,
  async ({ ctx, input }) => {
    const after = readCursor(input.cursor, ListPosition)
    const { from, to } = input
    const rows = await withUserStatement(
      ctx,
      (tx) => tx<Reflection[]>`
      select ${tx(REFLECTION_COLUMNS)} from public.reflections
      where user_id = ${ctx.userId}
        ${input.reflection_type ? tx`and reflection_type = any(${input.reflection_type}::public.reflection_type[])` : tx``}
        ${from === undefined ? tx`` : isDate(from) ? tx`and created_at >= (${from}::date)::timestamp at time zone 'UTC'` : tx`and created_at >= ${from}::timestamptz`}
        ${to === undefined ? tx`` : isDate(to) ? tx`and created_at < (${to}::date + 1)::timestamp at time zone 'UTC'` : tx`and created_at <= ${to}::timestamptz`}
        ${after ? tx`and (created_at, id) < (${after[0]}::timestamptz, ${after[1]}::uuid)` : tx``}
      order by created_at desc, id desc
      limit ${input.limit + 1}`,
      ctx.tx,
    )
    return page(rows, input.limit, (row) => [row.created_at, row.id])
  },
)

export const getReflection = defineVerb('reflections.get', IdInputSchema, ({ ctx, input }) =>
  getRow(ctx, REFLECTIONS, input.id),
)

/** Records a reflection, and who wrote it. */
export const createReflection = defineVerb(
  'reflections.create',
  ReflectionCreateSchema,
  async ({ ctx, input }) => {
    const { source, source_reference } = provenanceOf(ctx.actor)
    const [row] = await withUserStatement(
      ctx,
      (tx) => tx<Reflection[]>`
      insert into public.reflections (user_id, reflection_type, title, content, mood, metadata, source,
                                      source_reference)
      values (${ctx.userId}, ${input.reflection_type}, ${input.title}, ${input.content}, ${input.mood},
              ${jsonParam(tx, input.metadata)}, ${source}, ${source_reference && jsonParam(tx, source_reference)})
      returning ${tx(REFLECTION_COLUMNS)}`,
      ctx.tx,
    )
    return row
  },
)

export const deleteReflection = defineVerb('reflections.delete', RowVersionSchema, async ({ ctx, input }) => {
  await withUser(ctx, (tx) => deleteRow(tx, REFLECTIONS, input), ctx.tx)
})
