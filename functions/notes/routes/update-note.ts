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
import { NoteSchema, NoteUpdateSchema } from '../../../shared/notes/schemas.ts'
import { updateNote } from '../../../shared/notes/service.ts'

export const route = createRoute({
  method: 'put',
  path: '/{id}',
  summary: 'Change the fields given of a note (new content re-syncs its checklist tasks)',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: {
    params: IdParamsSchema,
    headers: IfMatchHeaderSchema,
    body: { required: true, content: { 'application/json': { schema: NoteUpdateSchema } } },
  },
  responses: {
    200: {
      description: 'The note',
      headers: etagHeader,
      content: { 'application/json': { schema: NoteSchema } },
    },
    ...errorResponses,
    ...conflictResponse,
    ...preconditionResponse,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const note = await updateNote({
      ctx: serviceContext(c),
      input: {
        id: c.req.valid('param').id,
        changes: c.req.valid('json'),
        expected: expectedVersions(c.req.valid('header')['if-match']),
      },
    })
    return rowResponse(c, note, 200)
  })
}
