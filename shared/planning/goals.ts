import { z } from '@hono/zod-openapi'
import { type ServiceContext, withUser } from '../db/with-user.ts'
import { jsonParam } from '../domain/columns.ts'
import { readCursor } from '../domain/cursor.ts'
import { deleteRow, type RowChange, type RowVersion, rowTable, selectRow, updateRow } from '../domain/rows.ts'
import { type RuleErrors, withRules } from '../domain/rules.ts'
import { TimestampSchema } from '../domain/schemas.ts'
import { ConflictError, ValidationError } from '../http/errors.ts'
import { page } from '../http/pagination.ts'
import type { Goal, GoalCreate, GoalListQuery, GoalUpdate, GoalWithSubGoals } from './schemas.ts'

export const GOAL_COLUMNS = [
  'id',
  'user_id',
  'parent_goal_id',
  'title',
  'description',
  'timeframe',
  'status',
  'progress',
  'priority',
  'due_date',
  'metadata',
  'created_at',
  'updated_at',
] as const

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

/** Newest first: after (created_at, id), descending. */
const ListPosition = z.tuple([TimestampSchema, z.uuid()])

export async function listGoals({ ctx, input }: { ctx: ServiceContext; input: GoalListQuery }) {
  const after = readCursor(input.cursor, ListPosition)
  const rows = await withUser(
    ctx.claims,
    (tx) => tx<Goal[]>`
      select ${tx(GOAL_COLUMNS)} from public.goals
      where user_id = ${ctx.userId}
        ${input.timeframe ? tx`and timeframe = any(${input.timeframe}::public.goal_timeframe[])` : tx``}
        ${input.status ? tx`and status = any(${input.status}::public.goal_status[])` : tx``}
        ${input.parent_goal_id === 'root' ? tx`and parent_goal_id is null` : input.parent_goal_id ? tx`and parent_goal_id = ${input.parent_goal_id}` : tx``}
        ${after ? tx`and (created_at, id) < (${after[0]}::timestamptz, ${after[1]}::uuid)` : tx``}
      order by created_at desc, id desc
      limit ${input.limit + 1}`,
    ctx.tx,
  )
  return page(rows, input.limit, (row) => [row.created_at, row.id])
}

/** A goal with its direct sub-goals, oldest first. */
export async function getGoal({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: { id: string }
}): Promise<GoalWithSubGoals> {
  return withUser(
    ctx.claims,
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
  )
}

export async function createGoal({ ctx, input }: { ctx: ServiceContext; input: GoalCreate }): Promise<Goal> {
  return withRules(rules, () =>
    withUser(
      ctx.claims,
      async (tx) => {
        const [row] = await tx<Goal[]>`
          insert into public.goals (user_id, parent_goal_id, title, description, timeframe, status, progress,
                                    priority, due_date, metadata)
          values (${ctx.userId}, ${input.parent_goal_id}, ${input.title}, ${input.description}, ${input.timeframe},
                  ${input.status}, ${input.progress}, ${input.priority}, ${input.due_date},
                  ${jsonParam(tx, input.metadata)})
          returning ${tx(GOAL_COLUMNS)}`
        return row
      },
      ctx.tx,
    ),
  )
}

export async function updateGoal({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: RowChange<GoalUpdate>
}): Promise<Goal> {
  return withRules(rules, () => withUser(ctx.claims, (tx) => updateRow(tx, GOALS, input), ctx.tx))
}

/** Deletes the goal; its sub-goals stay, as top-level goals (the foreign key sets their parent null). */
export async function deleteGoal({ ctx, input }: { ctx: ServiceContext; input: RowVersion }): Promise<void> {
  await withUser(ctx.claims, (tx) => deleteRow(tx, GOALS, input), ctx.tx)
}
