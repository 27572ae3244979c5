import { createRowRoute } from '../../../shared/http/routes.ts'
import { createReflection } from '../../../shared/planning/service.ts'
import { ReflectionSchema } from '../../../shared/planning/schemas.ts'

export const { route, register } = createRowRoute({
  path: '/reflections',
  summary: 'Write a reflection',
  rowSchema: ReflectionSchema,
  rowDescription: 'The reflection',
  create: createReflection,
})
