import { createRoute } from '@hono/zod-openapi'
import { IdParamsSchema } from '../../../shared/domain/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { etagHeader, rowResponse } from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { getReflection } from '../../../shared/planning/reflections.ts'
import { ReflectionSchema } from '../../../shared/planning/schemas.ts'

export const route = createRoute({
  method: 'get',
  path: '/reflections/{id}',
  summary: 'A reflection',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { params: IdParamsSchema },
  responses: {
    200: {
      description: 'The reflection',
      headers: etagHeader,
      content: { 'application/json': { schema: ReflectionSchema } },
    },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    rowResponse(c, await getReflection({ ctx: serviceContext(c), input: c.req.valid('param') }), 200),
  )
}
