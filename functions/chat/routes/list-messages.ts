import { listMessages } from '../../../shared/chat/messages.ts'
import { MessageSchema } from '../../../shared/chat/schemas.ts'
import { listQuerySchema } from '../../../shared/http/pagination.ts'
import { childListRoute } from '../../../shared/http/row-routes.ts'

export const { route, register } = childListRoute({
  path: '/conversations/{id}/messages',
  summary: 'A conversation’s messages, oldest to newest',
  description:
    'Realtime delivery is not guaranteed: after reconnecting, a client catches up from the next_cursor it last had.',
  querySchema: listQuerySchema,
  itemSchema: MessageSchema,
  pageDescription: 'A page of messages',
  list: listMessages,
})
