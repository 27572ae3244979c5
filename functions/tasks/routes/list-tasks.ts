import { createRoute } from '@hono/zod-openapi'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { pageSchema } from '../../../shared/http/pagination.ts'
import { TaskListQuerySchema, TaskSchema } from '../../../shared/tasks/schemas.ts'
import { listTasks } from '../../../shared/tasks/service.ts'

export const route = createRoute({
  method: 'get',
  path: '/',
  summary: 'The signed-in user’s tasks, filtered and sorted',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { query: TaskListQuerySchema },
  responses: {
    200: {
      description: 'A page of tasks',
      content: { 'application/json': { schema: pageSchema(TaskSchema) } },
    },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await listTasks({ ctx: serviceContext(c), input: c.req.valid('query') }), 200),
  )
}
