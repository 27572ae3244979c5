import { z } from '@hono/zod-openapi'
import { type ServiceContext, type Tx, withUser } from '../db/with-user.ts'
import { columnValues, givenColumns, jsonParam } from '../domain/columns.ts'
import { readCursor } from '../domain/cursor.ts'
import { type RuleErrors, withRules } from '../domain/rules.ts'
import { TimestampSchema } from '../domain/schemas.ts'
import { matchesVersion, refuseMissingOrStale } from '../http/concurrency.ts'
import { ConflictError, NotFoundError, ValidationError } from '../http/errors.ts'
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

const goalNotFound = () => new NotFoundError('No such goal')

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

async function selectGoal(tx: Tx, id: string): Promise<Goal | undefined> {
  const [row] = await tx<Goal[]>`select ${tx(GOAL_COLUMNS)} from public.goals where id = ${id}`
  return row
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
      const goal = await selectGoal(tx, input.id)
      if (!goal) throw goalNotFound()
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

export interface GoalChange {
  id: string
  changes: GoalUpdate
  /** The If-Match versions (updated_at values); the update applies only to one of them. */
  expected?: string[]
}

export async function updateGoal({ ctx, input }: { ctx: ServiceContext; input: GoalChange }): Promise<Goal> {
  const { id, expected } = input
  const columns = givenColumns(input.changes)
  return withRules(rules, () =>
    withUser(
      ctx.claims,
      async (tx) => {
        const [row] =
          columns.length === 0
            ? await tx<Goal[]>`
                select ${tx(GOAL_COLUMNS)} from public.goals where id = ${id} and ${matchesVersion(tx, expected)}`
            : await tx<Goal[]>`
                update public.goals set ${tx(columnValues(tx, input.changes), columns)}
                where id = ${id} and ${matchesVersion(tx, expected)}
                returning ${tx(GOAL_COLUMNS)}`
        if (!row) return refuseMissingOrStale(tx, 'goals', id, goalNotFound)
        return row
      },
      ctx.tx,
    ),
  )
}

/** Deletes the goal; its sub-goals stay, as top-level goals (the foreign key sets their parent null). */
export async function deleteGoal({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: { id: string; expected?: string[] }
}): Promise<void> {
  await withUser(
    ctx.claims,
    async (tx) => {
      const deleted = await tx`
        delete from public.goals where id = ${input.id} and ${matchesVersion(tx, input.expected)} returning 1`
      if (deleted.length === 0) await refuseMissingOrStale(tx, 'goals', input.id, goalNotFound)
    },
    ctx.tx,
  )
}
