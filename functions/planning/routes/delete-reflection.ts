import { deleteRowRoute } from '../../../shared/http/routes.ts'
import { deleteReflection } from '../../../shared/planning/service.ts'

export const { route, register } = deleteRowRoute({
  path: '/reflections/{id}',
  summary: 'Delete a reflection',
  remove: deleteReflection,
})
