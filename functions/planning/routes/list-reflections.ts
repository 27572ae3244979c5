import { listRoute } from '../../../shared/http/routes.ts'
import { listReflections } from '../../../shared/planning/service.ts'
import { ReflectionSchema } from '../../../shared/planning/schemas.ts'

export const { route, register } = listRoute({
  path: '/reflections',
  summary: 'The signed-in user’s reflections, newest first',
  itemSchema: ReflectionSchema,
  pageDescription: 'A page of reflections',
  list: listReflections,
})
