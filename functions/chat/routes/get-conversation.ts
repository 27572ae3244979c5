import { createRoute } from '@hono/zod-openapi'
import { getConversation } from '../../../shared/chat/conversations.ts'
import { ConversationSchema } from '../../../shared/chat/schemas.ts'
import { IdParamsSchema } from '../../../shared/domain/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'

export const route = createRoute({
  method: 'get',
  path: '/conversations/{id}',
  summary: 'A conversation',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { params: IdParamsSchema },
  responses: {
    200: {
      description: 'The conversation',
      content: { 'application/json': { schema: ConversationSchema } },
    },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await getConversation({ ctx: serviceContext(c), input: c.req.valid('param') }), 200),
  )
}
