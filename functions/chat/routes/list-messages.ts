import { MessageSchema } from '../../../shared/chat/schemas.ts'
import { listMessages } from '../../../shared/chat/service.ts'
import { childListRoute } from '../../../shared/http/routes.ts'

export const { route, register } = childListRoute({
  path: '/conversations/{id}/messages',
  summary: 'A conversation’s messages, oldest to newest',
  description:
    'Realtime delivery is not guaranteed: after reconnecting, a client catches up from the next_cursor it last had.',
  itemSchema: MessageSchema,
  pageDescription: 'A page of messages',
  list: listMessages,
})
