import { listConversations } from '../../../shared/chat/conversations.ts'
import { ConversationSchema } from '../../../shared/chat/schemas.ts'
import { listQuerySchema } from '../../../shared/http/pagination.ts'
import { listRoute } from '../../../shared/http/row-routes.ts'

export const { route, register } = listRoute({
  path: '/conversations',
  summary: 'The signed-in user’s conversations, latest activity first',
  querySchema: listQuerySchema,
  itemSchema: ConversationSchema,
  pageDescription: 'A page of conversations',
  list: listConversations,
})
