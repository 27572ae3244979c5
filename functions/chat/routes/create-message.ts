import { handToAgent } from '../../../shared/chat/handoff.ts'
import { MessagePostedSchema, MessagePostSchema } from '../../../shared/chat/schemas.ts'
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
  summary: 'Post the user’s message to a conversation (and have an agent answer it)',
  description:
    'Clients post only `user` messages; assistant, system and tool messages come from the agents. ' +
    'Subscribers to public.messages over Realtime receive the new row. With `respond` (the default) the ' +
    'message is handed to the ai function, which answers in the background: the response carries the ' +
    'run (`{id, status}`), whose output streams to the private channel `conversation:{id}`. A repeat ' +
    'under the same Idempotency-Key gets the stored message and starts no second run.',
  request: { params: IdParamsSchema, headers: IdempotencyHeaderSchema, body: jsonBody(MessagePostSchema) },
  responses: {
    201: jsonResponse('The stored message and its run', MessagePostedSchema),
    409: errorResponse(409),
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const { respond, ...message } = c.req.valid('json')
    const input = { ...message, conversation_id: c.req.valid('param').id }
    const key = c.req.valid('header')['idempotency-key']
    const { result, replayed } = await runIdempotent(
      serviceContext(c),
      idempotencyOf(key, createMessage.verbName, input),
      (ctx) => createMessage.trusted({ ctx, input }),
    )
    // After the message's transaction: the hand-off is an HTTP call, never made inside one.
    const token = (c.req.header('authorization') ?? '').replace(/^Bearer\s+/i, '').trim()
    const handoff = respond && !replayed ? await handToAgent(token, result, input.agent_id) : {}
    return c.json({ ...result, ...handoff }, 201, replayHeaders(replayed))
  })
}
