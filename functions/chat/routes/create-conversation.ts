import { ConversationSchema } from '../../../shared/chat/schemas.ts'
import { createConversation } from '../../../shared/chat/service.ts'
import { createRowRoute } from '../../../shared/http/routes.ts'

export const { route, register } = createRowRoute({
  path: '/conversations',
  summary: 'Start a conversation (untitled ones are named after their first message)',
  rowSchema: ConversationSchema,
  rowDescription: 'The conversation',
  // A conversation's updated_at moves with every message: it is no version a client could write against.
  versioned: false,
  create: createConversation,
})
