import { createRoute } from '@hono/zod-openapi'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { pageSchema } from '../../../shared/http/pagination.ts'
import { NoteListQuerySchema, NoteSchema } from '../../../shared/notes/schemas.ts'
import { listNotes } from '../../../shared/notes/service.ts'

export const route = createRoute({
  method: 'get',
  path: '/',
  summary: 'The signed-in user’s notes: pinned first, then most recently changed',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { query: NoteListQuerySchema },
  responses: {
    200: {
      description: 'A page of notes',
      content: { 'application/json': { schema: pageSchema(NoteSchema) } },
    },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await listNotes({ ctx: serviceContext(c), input: c.req.valid('query') }), 200),
  )
}
