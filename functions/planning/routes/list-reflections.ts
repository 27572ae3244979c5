import { createRoute } from '@hono/zod-openapi'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { pageSchema } from '../../../shared/http/pagination.ts'
import { listReflections } from '../../../shared/planning/reflections.ts'
import { ReflectionListQuerySchema, ReflectionSchema } from '../../../shared/planning/schemas.ts'

export const route = createRoute({
  method: 'get',
  path: '/reflections',
  summary: 'The signed-in user’s reflections, newest first',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { query: ReflectionListQuerySchema },
  responses: {
    200: {
      description: 'A page of reflections',
      content: { 'application/json': { schema: pageSchema(ReflectionSchema) } },
    },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await listReflections({ ctx: serviceContext(c), input: c.req.valid('query') }), 200),
  )
}
