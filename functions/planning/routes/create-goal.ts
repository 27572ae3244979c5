import { createRowRoute } from '../../../shared/http/row-routes.ts'
import { createGoal } from '../../../shared/planning/goals.ts'
import { GoalCreateSchema, GoalSchema } from '../../../shared/planning/schemas.ts'

export const { route, register } = createRowRoute({
  path: '/goals',
  summary: 'Create a goal',
  bodySchema: GoalCreateSchema,
  rowSchema: GoalSchema,
  rowDescription: 'The goal',
  idempotencyScope: 'goals.create',
  create: createGoal,
})
