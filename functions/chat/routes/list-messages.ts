import { createRoute } from '@hono/zod-openapi'
import { listMessages } from '../../../shared/chat/messages.ts'
import { MessageSchema } from '../../../shared/chat/schemas.ts'
import { IdParamsSchema } from '../../../shared/domain/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { listQuerySchema, pageSchema } from '../../../shared/http/pagination.ts'

export const route = createRoute({
  method: 'get',
  path: '/conversations/{id}/messages',
  summary: 'A conversation’s messages, oldest to newest',
  description:
    'Realtime delivery is not guaranteed: after reconnecting, a client catches up from the next_cursor it last had.',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { params: IdParamsSchema, query: listQuerySchema },
  responses: {
    200: {
      description: 'A page of messages',
      content: { 'application/json': { schema: pageSchema(MessageSchema) } },
    },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(
      await listMessages({
        ctx: serviceContext(c),
        input: { ...c.req.valid('param'), ...c.req.valid('query') },
      }),
      200,
    ),
  )
}
