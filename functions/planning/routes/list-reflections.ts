import { listRoute } from '../../../shared/http/row-routes.ts'
import { listReflections } from '../../../shared/planning/reflections.ts'
import { ReflectionListQuerySchema, ReflectionSchema } from '../../../shared/planning/schemas.ts'

export const { route, register } = listRoute({
  path: '/reflections',
  summary: 'The signed-in user’s reflections, newest first',
  querySchema: ReflectionListQuerySchema,
  itemSchema: ReflectionSchema,
  pageDescription: 'A page of reflections',
  list: listReflections,
})
