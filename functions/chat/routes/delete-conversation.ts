import { createRoute } from '@hono/zod-openapi'
import { deleteConversation } from '../../../shared/chat/conversations.ts'
import { IdParamsSchema } from '../../../shared/domain/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'

export const route = createRoute({
  method: 'delete',
  path: '/conversations/{id}',
  summary: 'Delete a conversation with its messages',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { params: IdParamsSchema },
  responses: {
    204: { description: 'Deleted' },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    await deleteConversation({ ctx: serviceContext(c), input: c.req.valid('param') })
    return c.body(null, 204)
  })
}
