import { createRoute } from '@hono/zod-openapi'
import { ConversationSchema } from '../../../shared/chat/schemas.ts'
import { listConversations } from '../../../shared/chat/conversations.ts'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { listQuerySchema, pageSchema } from '../../../shared/http/pagination.ts'

export const route = createRoute({
  method: 'get',
  path: '/conversations',
  summary: 'The signed-in user’s conversations, latest activity first',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { query: listQuerySchema },
  responses: {
    200: {
      description: 'A page of conversations',
      content: { 'application/json': { schema: pageSchema(ConversationSchema) } },
    },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await listConversations({ ctx: serviceContext(c), input: c.req.valid('query') }), 200),
  )
}
