import { deleteRowRoute } from '../../../shared/http/row-routes.ts'
import { deleteReflection } from '../../../shared/planning/reflections.ts'

export const { route, register } = deleteRowRoute({
  path: '/reflections/{id}',
  summary: 'Delete a reflection',
  remove: deleteReflection,
})
