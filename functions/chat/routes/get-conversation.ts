import { ConversationSchema } from '../../../shared/chat/schemas.ts'
import { getConversation } from '../../../shared/chat/service.ts'
import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { IdParamsSchema } from '../../../shared/http/params.ts'
import { jsonResponse, userRoute } from '../../../shared/http/routes.ts'

export const route = userRoute({
  method: 'get',
  path: '/conversations/{id}',
  summary: 'A conversation',
  request: { params: IdParamsSchema },
  responses: { 200: jsonResponse('The conversation', ConversationSchema) },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await getConversation.trusted({ ctx: serviceContext(c), input: c.req.valid('param') }), 200),
  )
}
