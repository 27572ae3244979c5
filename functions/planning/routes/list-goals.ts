import { listRoute } from '../../../shared/http/routes.ts'
import { listGoals } from '../../../shared/planning/service.ts'
import { GoalSchema } from '../../../shared/planning/schemas.ts'

export const { route, register } = listRoute({
  path: '/goals',
  summary: 'The signed-in user’s goals, newest first',
  itemSchema: GoalSchema,
  pageDescription: 'A page of goals',
  list: listGoals,
})
