import { ConversationSchema } from '../../../shared/chat/schemas.ts'
import { listConversations } from '../../../shared/chat/service.ts'
import { listRoute } from '../../../shared/http/routes.ts'

export const { route, register } = listRoute({
  path: '/conversations',
  summary: 'The signed-in user’s conversations, latest activity first',
  itemSchema: ConversationSchema,
  pageDescription: 'A page of conversations',
  list: listConversations,
})
