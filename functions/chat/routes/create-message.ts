import { createRoute } from '@hono/zod-openapi'
import { createMessage } from '../../../shared/chat/messages.ts'
import { MessageCreateSchema, MessageSchema } from '../../../shared/chat/schemas.ts'
import { IdParamsSchema } from '../../../shared/domain/schemas.ts'
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
  path: '/conversations/{id}/messages',
  summary: 'Post the user’s message to a conversation',
  description:
    'Clients post only `user` messages; assistant, system and tool messages come from the agents. ' +
    'Subscribers to public.messages over Realtime receive the new row.',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: {
    params: IdParamsSchema,
    headers: IdempotencyHeaderSchema,
    body: { required: true, content: { 'application/json': { schema: MessageCreateSchema } } },
  },
  responses: {
    201: {
      description: 'The stored message',
      content: { 'application/json': { schema: MessageSchema } },
    },
    ...errorResponses,
    ...conflictResponse,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const input = { ...c.req.valid('json'), conversation_id: c.req.valid('param').id }
    const idempotency = idempotencyOf(c.req.valid('header')['idempotency-key'], 'chat.messages.create', input)
    const { result, replayed } = await runIdempotent(serviceContext(c), idempotency, (ctx) =>
      createMessage({ ctx, input }),
    )
    return c.json(result, 201, replayed ? { 'Idempotent-Replayed': 'true' } : {})
  })
}
