import { createRoute } from '@hono/zod-openapi'
import { IdParamsSchema } from '../../../shared/domain/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import {
  expectedVersions,
  IfMatchHeaderSchema,
  preconditionResponse,
} from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { deleteReflection } from '../../../shared/planning/reflections.ts'

export const route = createRoute({
  method: 'delete',
  path: '/reflections/{id}',
  summary: 'Delete a reflection',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { params: IdParamsSchema, headers: IfMatchHeaderSchema },
  responses: {
    204: { description: 'Deleted' },
    ...errorResponses,
    ...preconditionResponse,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    await deleteReflection({
      ctx: serviceContext(c),
      input: { id: c.req.valid('param').id, expected: expectedVersions(c.req.valid('header')['if-match']) },
    })
    return c.body(null, 204)
  })
}
