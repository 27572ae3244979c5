import { createRoute } from '@hono/zod-openapi'
import { IdParamsSchema } from '../../../shared/domain/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import {
  etagHeader,
  expectedVersions,
  IfMatchHeaderSchema,
  preconditionResponse,
  rowResponse,
} from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { TaskSchema, TaskStatusChangeSchema } from '../../../shared/tasks/schemas.ts'
import { setTaskStatus } from '../../../shared/tasks/service.ts'

export const route = createRoute({
  method: 'put',
  path: '/{id}/status',
  summary: 'Set a task’s status (done sets completed_at, anything else clears it)',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: {
    params: IdParamsSchema,
    headers: IfMatchHeaderSchema,
    body: { required: true, content: { 'application/json': { schema: TaskStatusChangeSchema } } },
  },
  responses: {
    200: {
      description: 'The task',
      headers: etagHeader,
      content: { 'application/json': { schema: TaskSchema } },
    },
    ...errorResponses,
    ...preconditionResponse,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const task = await setTaskStatus({
      ctx: serviceContext(c),
      input: {
        id: c.req.valid('param').id,
        status: c.req.valid('json').status,
        expected: expectedVersions(c.req.valid('header')['if-match']),
      },
    })
    return rowResponse(c, task, 200)
  })
}
