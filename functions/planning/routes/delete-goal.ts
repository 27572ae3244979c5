import { deleteRowRoute } from '../../../shared/http/routes.ts'
import { deleteGoal } from '../../../shared/planning/service.ts'

export const { route, register } = deleteRowRoute({
  path: '/goals/{id}',
  summary: 'Delete a goal (its sub-goals become top-level goals)',
  remove: deleteGoal,
})
