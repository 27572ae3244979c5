import { createRoute } from '@hono/zod-openapi'
import { IdParamsSchema } from '../../../shared/domain/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { listQuerySchema, pageSchema } from '../../../shared/http/pagination.ts'
import { listNoteTasks } from '../../../shared/notes/service.ts'
import { TaskSchema } from '../../../shared/tasks/schemas.ts'

export const route = createRoute({
  method: 'get',
  path: '/{id}/tasks',
  summary: 'The tasks of a note’s checklist items, in the order they were made',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { params: IdParamsSchema, query: listQuerySchema },
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
    c.json(
      await listNoteTasks({
        ctx: serviceContext(c),
        input: { ...c.req.valid('param'), ...c.req.valid('query') },
      }),
      200,
    ),
  )
}
