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
import { NoteCreateSchema, NoteSchema } from '../../../shared/notes/schemas.ts'
import { createNote } from '../../../shared/notes/service.ts'

export const route = createRoute({
  method: 'post',
  path: '/',
  summary: 'Create a note (its checklist items become tasks)',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: {
    headers: IdempotencyHeaderSchema,
    body: { required: true, content: { 'application/json': { schema: NoteCreateSchema } } },
  },
  responses: {
    201: {
      description: 'The note',
      headers: etagHeader,
      content: { 'application/json': { schema: NoteSchema } },
    },
    ...errorResponses,
    ...conflictResponse,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const input = c.req.valid('json')
    const idempotency = idempotencyOf(c.req.valid('header')['idempotency-key'], 'notes.create', input)
    const { result, replayed } = await runIdempotent(serviceContext(c), idempotency, (ctx) =>
      createNote({ ctx, input }),
    )
    return rowResponse(c, result, 201, replayed ? { 'Idempotent-Replayed': 'true' } : {})
  })
}
