import { createRoute } from '@hono/zod-openapi'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import {
  conflictResponse,
  etagHeader,
  IdempotencyHeaderSchema,
  idempotencyOf,
  rowResponse,
  runIdempotent,
} from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { TaskCreateSchema, TaskSchema } from '../../../shared/tasks/schemas.ts'
import { createTask } from '../../../shared/tasks/service.ts'

export const route = createRoute({
  method: 'post',
  path: '/',
  summary: 'Create a task',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: {
    headers: IdempotencyHeaderSchema,
    body: { required: true, content: { 'application/json': { schema: TaskCreateSchema } } },
  },
  responses: {
    201: {
      description: 'The task',
      headers: etagHeader,
      content: { 'application/json': { schema: TaskSchema } },
    },
    ...errorResponses,
    ...conflictResponse,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const input = c.req.valid('json')
    const idempotency = idempotencyOf(c.req.valid('header')['idempotency-key'], 'tasks.create', input)
    const { result, replayed } = await runIdempotent(serviceContext(c), idempotency, (ctx) =>
      createTask({ ctx, input }),
    )
    return rowResponse(c, result, 201, replayed ? { 'Idempotent-Replayed': 'true' } : {})
  })
}
