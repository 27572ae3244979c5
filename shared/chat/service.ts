import { z } from '@hono/zod-openapi'
import { NotFoundError, ValidationError } from '../core/errors.ts'
import { listQuerySchema, page, readCursor } from '../core/pages.ts'
import { columnsOf, IdInputSchema, TimestampSchema } from '../core/schemas.ts'
import { defineVerb } from '../core/verb.ts'
import { jsonParam } from '../db/columns.ts'
import { withRules } from '../db/rules.ts'
import { type Tx, withUser, withUserStatement } from '../db/with-user.ts'
import {
  type Conversation,
  ConversationCreateSchema,
  ConversationSchema,
  type Message,
  MessageInputSchema,
  MessageSchema,
  MessagesQuerySchema,
} from './schemas.ts'

// Conversations and their messages. Clients store only their own (`user`) messages; the agents'
// replies are written by server code through private.insert_message (recordAgentMessage).

const CONVERSATION_COLUMNS = columnsOf(ConversationSchema)
/**
 * A message as the API shows it: its `agent_id` is the agent that wrote an agent's message, and the
 * one a user's message is addressed to (the columns agent_id and addressee, ADR 0017).
 */
const MESSAGE_SELECT = columnsOf(MessageSchema)
  .map((column) => (column === 'agent_id' ? 'coalesce(agent_id, addressee) as agent_id' : column))
  .join(', ')
const messageColumns = (tx: Tx) => tx.unsafe(MESSAGE_SELECT)

export const conversationNotFound = () => new NotFoundError('No such conversation')

/** Conversations list latest activity first: after (updated_at, id), descending. */
const ConversationPosition = z.tuple([TimestampSchema, z.uuid()])
/** Messages list oldest first: after (created_at, id). */
const MessagePosition = z.tuple([TimestampSchema, z.uuid()])

/**
 * The user's conversations, the one with the latest message first. A conversation that gets a
 * message while a client pages moves to the top: the client sees it by starting again (or by
 * following the conversations table over Realtime), and never sees one twice.
 */
export const listConversations = defineVerb('conversations.list', listQuerySchema, async ({ ctx, input }) => {
  const after = readCursor(input.cursor, ConversationPosition)
  const rows = await withUserStatement(
    ctx,
    (tx) => tx<Conversation[]>`
      select ${tx(CONVERSATION_COLUMNS)} from public.conversations
      where user_id = ${ctx.userId}
        ${after ? tx`and (updated_at, id) < (${after[0]}::timestamptz, ${after[1]}::uuid)` : tx``}
      order by updated_at desc, id desc
      limit ${input.limit + 1}`,
    ctx.tx,
  )
  return page(rows, input.limit, (row) => [row.updated_at, row.id])
})

export const getConversation = defineVerb('conversations.get', IdInputSchema, async ({ ctx, input }) => {
  const [row] = await withUserStatement(
    ctx,
    (tx) => tx<Conversation[]>`
      select ${tx(CONVERSATION_COLUMNS)} from public.conversations where id = ${input.id}`,
    ctx.tx,
  )
  if (!row) throw conversationNotFound()
  return row
})

export const createConversation = defineVerb(
  'conversations.create',
  ConversationCreateSchema,
  async ({ ctx, input }) => {
    const [row] = await withUserStatement(
      ctx,
      (tx) => tx<Conversation[]>`
        insert into public.conversations (user_id, title, metadata)
        values (${ctx.userId}, ${input.title}, ${jsonParam(tx, input.metadata)})
        returning ${tx(CONVERSATION_COLUMNS)}`,
      ctx.tx,
    )
    return row
  },
)

/** Deletes the conversation; its messages go with it (the foreign key cascades). */
export const deleteConversation = defineVerb(
  'conversations.delete',
  IdInputSchema,
  async ({ ctx, input }) => {
    const deleted = await withUserStatement(
      ctx,
      (tx) => tx`delete from public.conversations where id = ${input.id} returning 1`,
      ctx.tx,
    )
    if (deleted.length === 0) throw conversationNotFound()
  },
)

/** A conversation's messages, oldest to newest; messages added while a client pages come last. */
export const listMessages = defineVerb('messages.list', MessagesQuerySchema, async ({ ctx, input }) => {
  const after = readCursor(input.cursor, MessagePosition)
  const rows = await withUser(
    ctx,
    async (tx) => {
      const messages = await tx<Message[]>`
        select ${messageColumns(tx)} from public.messages
        where user_id = ${ctx.userId} and conversation_id = ${input.id}
          ${after ? tx`and (created_at, id) > (${after[0]}::timestamptz, ${after[1]}::uuid)` : tx``}
        order by created_at, id
        limit ${input.limit + 1}`
      if (messages.length === 0) {
        const [conversation] = await tx`select 1 from public.conversations where id = ${input.id}`
        if (!conversation) throw conversationNotFound()
      }
      return messages
    },
    ctx.tx,
  )
  return page(rows, input.limit, (row) => [row.created_at, row.id])
})

/**
 * Stores the user's message in one of their conversations, addressed to `agent_id` (null: the
 * conversation's default agent). The database moves the conversation's updated_at and names an
 * untitled one after it (20261125001100_chat_rules.sql).
 */
export const createMessage = defineVerb('messages.create', MessageInputSchema, async ({ ctx, input }) => {
  // A conversation deleted while the message is stored fails the foreign key: to the client it is gone.
  const [row] = await withRules({ messages_conversation_fkey: conversationNotFound }, () =>
    withUserStatement(
      ctx,
      (tx) => tx<Message[]>`
        insert into public.messages (user_id, conversation_id, role, content, addressee, metadata)
        select ${ctx.userId}, c.id, ${input.role}::public.message_role, ${input.content}, ${input.agent_id},
               ${jsonParam(tx, input.metadata)}
        from public.conversations c
        where c.id = ${input.conversation_id} and c.user_id = ${ctx.userId}
        returning ${messageColumns(tx)}`,
      ctx.tx,
    ),
  )
  if (!row) throw conversationNotFound()
  return row
})

/** What an agent writes into a conversation: its answer, a tool call or result, or a system note. */
export const AgentMessageInputSchema = z.object({
  conversation_id: z.uuid(),
  role: z.enum(['assistant', 'system', 'tool']),
  content: z.string(),
  metadata: z.record(z.string(), z.unknown()).default({}),
})

/**
 * Stores an agent's message as the agent acting for the user (the context's actor): through
 * private.insert_message, the only way to write anything but a user message, which checks that the
 * conversation is the caller's. Server code only; no route calls it.
 */
export const recordAgentMessage = defineVerb(
  'messages.record_agent',
  AgentMessageInputSchema,
  async ({ ctx, input }) => {
    if (ctx.actor.kind !== 'agent')
      throw new ValidationError([{ path: '', message: 'Only an agent writes agent messages' }])
    const agentId = ctx.actor.agentId
    const [row] = await withRules({ messages_conversation_fkey: conversationNotFound }, () =>
      withUserStatement(
        ctx,
        (tx) => tx<Message[]>`
          select ${messageColumns(tx)} from private.insert_message(
            ${input.conversation_id}, ${input.role}::public.message_role, ${input.content}, ${agentId},
            ${jsonParam(tx, input.metadata)})`,
        ctx.tx,
      ),
    )
    return row
  },
)
