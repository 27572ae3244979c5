import { createRowRoute } from '../../../shared/http/routes.ts'
import { createGoal } from '../../../shared/planning/service.ts'
import { GoalSchema } from '../../../shared/planning/schemas.ts'

export const { route, register } = createRowRoute({
  path: '/goals',
  summary: 'Create a goal',
  rowSchema: GoalSchema,
  rowDescription: 'The goal',
  create: createGoal,
})
