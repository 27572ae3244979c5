import { MessageCreateSchema, MessageSchema } from '../../../shared/chat/schemas.ts'
import { createMessage } from '../../../shared/chat/service.ts'
import { runIdempotent } from '../../../shared/db/idempotency.ts'
import type { App } from '../../../shared/http/app.ts'
import { IdempotencyHeaderSchema, idempotencyOf, replayHeaders } from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { errorResponse } from '../../../shared/http/openapi.ts'
import { IdParamsSchema } from '../../../shared/http/params.ts'
import { jsonBody, jsonResponse, userRoute } from '../../../shared/http/routes.ts'

export const route = userRoute({
  method: 'post',
  path: '/conversations/{id}/messages',
  summary: 'Post the user’s message to a conversation',
  description:
    'Clients post only `user` messages; assistant, system and tool messages come from the agents. ' +
    'Subscribers to public.messages over Realtime receive the new row.',
  request: { params: IdParamsSchema, headers: IdempotencyHeaderSchema, body: jsonBody(MessageCreateSchema) },
  responses: { 201: jsonResponse('The stored message', MessageSchema), 409: errorResponse(409) },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const input = { ...c.req.valid('json'), conversation_id: c.req.valid('param').id }
    const key = c.req.valid('header')['idempotency-key']
    const { result, replayed } = await runIdempotent(
      serviceContext(c),
      idempotencyOf(key, createMessage.verbName, input),
      (ctx) => createMessage.trusted({ ctx, input }),
    )
    return c.json(result, 201, replayHeaders(replayed))
  })
}
