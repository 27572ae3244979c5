import { createRowRoute } from '../../../shared/http/row-routes.ts'
import { createReflection } from '../../../shared/planning/reflections.ts'
import { ReflectionCreateSchema, ReflectionSchema } from '../../../shared/planning/schemas.ts'

export const { route, register } = createRowRoute({
  path: '/reflections',
  summary: 'Write a reflection',
  bodySchema: ReflectionCreateSchema,
  rowSchema: ReflectionSchema,
  rowDescription: 'The reflection',
  idempotencyScope: 'reflections.create',
  create: createReflection,
})
