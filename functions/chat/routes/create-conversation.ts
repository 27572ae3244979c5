import { createRoute } from '@hono/zod-openapi'
import { createConversation } from '../../../shared/chat/conversations.ts'
import { ConversationCreateSchema, ConversationSchema } from '../../../shared/chat/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import {
  conflictResponse,
  IdempotencyHeaderSchema,
  idempotencyOf,
  runIdempotent,
} from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'

export const route = createRoute({
  method: 'post',
  path: '/conversations',
  summary: 'Start a conversation (untitled ones are named after their first message)',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: {
    headers: IdempotencyHeaderSchema,
    body: { required: true, content: { 'application/json': { schema: ConversationCreateSchema } } },
  },
  responses: {
    201: {
      description: 'The conversation',
      content: { 'application/json': { schema: ConversationSchema } },
    },
    ...errorResponses,
    ...conflictResponse,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const input = c.req.valid('json')
    const idempotency = idempotencyOf(
      c.req.valid('header')['idempotency-key'],
      'chat.conversations.create',
      input,
    )
    const { result, replayed } = await runIdempotent(serviceContext(c), idempotency, (ctx) =>
      createConversation({ ctx, input }),
    )
    return c.json(result, 201, replayed ? { 'Idempotent-Replayed': 'true' } : {})
  })
}
