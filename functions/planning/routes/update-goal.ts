import { updateRowRoute } from '../../../shared/http/row-routes.ts'
import { updateGoal } from '../../../shared/planning/goals.ts'
import { GoalSchema, GoalUpdateSchema } from '../../../shared/planning/schemas.ts'

export const { route, register } = updateRowRoute({
  path: '/goals/{id}',
  summary: 'Change the fields given of a goal',
  bodySchema: GoalUpdateSchema,
  rowSchema: GoalSchema,
  rowDescription: 'The goal',
  update: updateGoal,
})
