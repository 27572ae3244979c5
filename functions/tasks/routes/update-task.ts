import { createRoute } from '@hono/zod-openapi'
import { IdParamsSchema } from '../../../shared/domain/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import {
  conflictResponse,
  etagHeader,
  expectedVersions,
  IfMatchHeaderSchema,
  preconditionResponse,
  rowResponse,
} from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { TaskSchema, TaskUpdateSchema } from '../../../shared/tasks/schemas.ts'
import { updateTask } from '../../../shared/tasks/service.ts'

export const route = createRoute({
  method: 'put',
  path: '/{id}',
  summary: 'Change the fields given of a task',
  description:
    'A checklist task changed here keeps its title when its note is saved again; a status change is written into the note’s checklist.',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: {
    params: IdParamsSchema,
    headers: IfMatchHeaderSchema,
    body: { required: true, content: { 'application/json': { schema: TaskUpdateSchema } } },
  },
  responses: {
    200: {
      description: 'The task',
      headers: etagHeader,
      content: { 'application/json': { schema: TaskSchema } },
    },
    ...errorResponses,
    ...conflictResponse,
    ...preconditionResponse,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const task = await updateTask({
      ctx: serviceContext(c),
      input: {
        id: c.req.valid('param').id,
        changes: c.req.valid('json'),
        expected: expectedVersions(c.req.valid('header')['if-match']),
      },
    })
    return rowResponse(c, task, 200)
  })
}
