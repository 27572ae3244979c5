import { createRoute } from '@hono/zod-openapi'
import { IdParamsSchema } from '../../../shared/domain/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { etagHeader, rowResponse } from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { TaskSchema } from '../../../shared/tasks/schemas.ts'
import { getTask } from '../../../shared/tasks/service.ts'

export const route = createRoute({
  method: 'get',
  path: '/{id}',
  summary: 'A task',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { params: IdParamsSchema },
  responses: {
    200: {
      description: 'The task',
      headers: etagHeader,
      content: { 'application/json': { schema: TaskSchema } },
    },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    rowResponse(c, await getTask({ ctx: serviceContext(c), input: c.req.valid('param') }), 200),
  )
}
