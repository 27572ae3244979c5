import { createApp } from '../../shared/http/app.ts'
import * as createConversation from './routes/create-conversation.ts'
import * as createMessage from './routes/create-message.ts'
import * as deleteConversation from './routes/delete-conversation.ts'
import * as getConversation from './routes/get-conversation.ts'
import * as listConversations from './routes/list-conversations.ts'
import * as listMessages from './routes/list-messages.ts'

export const app = createApp('chat')
for (const route of [
  listConversations,
  createConversation,
  getConversation,
  deleteConversation,
  listMessages,
  createMessage,
])
  route.register(app)
