import { updateRowRoute } from '../../../shared/http/routes.ts'
import { updateGoal } from '../../../shared/planning/service.ts'
import { GoalSchema } from '../../../shared/planning/schemas.ts'

export const { route, register } = updateRowRoute({
  path: '/goals/{id}',
  summary: 'Change the fields given of a goal',
  rowSchema: GoalSchema,
  rowDescription: 'The goal',
  update: updateGoal,
})
