import { getRowRoute } from '../../../shared/http/routes.ts'
import { getGoal } from '../../../shared/planning/service.ts'
import { GoalWithSubGoalsSchema } from '../../../shared/planning/schemas.ts'

export const { route, register } = getRowRoute({
  path: '/goals/{id}',
  summary: 'A goal with its sub-goals',
  rowSchema: GoalWithSubGoalsSchema,
  rowDescription: 'The goal',
  get: getGoal,
})
