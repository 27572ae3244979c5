import { createRoute } from '@hono/zod-openapi'
import { IdParamsSchema } from '../../../shared/domain/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { etagHeader, rowResponse } from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { NoteSchema } from '../../../shared/notes/schemas.ts'
import { getNote } from '../../../shared/notes/service.ts'

export const route = createRoute({
  method: 'get',
  path: '/{id}',
  summary: 'A note',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { params: IdParamsSchema },
  responses: {
    200: {
      description: 'The note',
      headers: etagHeader,
      content: { 'application/json': { schema: NoteSchema } },
    },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    rowResponse(c, await getNote({ ctx: serviceContext(c), input: c.req.valid('param') }), 200),
  )
}
