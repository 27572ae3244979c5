import { getRowRoute } from '../../../shared/http/routes.ts'
import { getReflection } from '../../../shared/planning/service.ts'
import { ReflectionSchema } from '../../../shared/planning/schemas.ts'

export const { route, register } = getRowRoute({
  path: '/reflections/{id}',
  summary: 'A reflection',
  rowSchema: ReflectionSchema,
  rowDescription: 'The reflection',
  get: getReflection,
})
