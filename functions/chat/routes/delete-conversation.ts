import { deleteConversation } from '../../../shared/chat/service.ts'
import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { IdParamsSchema } from '../../../shared/http/params.ts'
import { userRoute } from '../../../shared/http/routes.ts'

export const route = userRoute({
  method: 'delete',
  path: '/conversations/{id}',
  summary: 'Delete a conversation with its messages',
  request: { params: IdParamsSchema },
  responses: { 204: { description: 'Deleted' } },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    await deleteConversation.trusted({ ctx: serviceContext(c), input: c.req.valid('param') })
    return c.body(null, 204)
  })
}
