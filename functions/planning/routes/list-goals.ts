import { listRoute } from '../../../shared/http/row-routes.ts'
import { listGoals } from '../../../shared/planning/goals.ts'
import { GoalListQuerySchema, GoalSchema } from '../../../shared/planning/schemas.ts'

export const { route, register } = listRoute({
  path: '/goals',
  summary: 'The signed-in user’s goals, newest first',
  querySchema: GoalListQuerySchema,
  itemSchema: GoalSchema,
  pageDescription: 'A page of goals',
  list: listGoals,
})
