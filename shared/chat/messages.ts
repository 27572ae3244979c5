import { z } from '@hono/zod-openapi'
import { type ServiceContext, type Tx, withUser } from '../db/with-user.ts'
import { jsonParam } from '../domain/columns.ts'
import { readCursor } from '../domain/cursor.ts'
import { withRules } from '../domain/rules.ts'
import { TimestampSchema } from '../domain/schemas.ts'
import { type ListQuery, page } from '../http/pagination.ts'
import { conversationNotFound } from './conversations.ts'
import type { Message, MessageCreate } from './schemas.ts'

/**
 * A message as the API shows it. Its agent_id is the agent that wrote an agent's message and the one
 * a user's message is addressed to: the columns agent_id and addressee
 * (supabase/migrations/20261201000200_message_provenance.sql).
 */
const messageColumns = (tx: Tx) =>
  tx`id, user_id, conversation_id, role, content, coalesce(agent_id, addressee) as agent_id, metadata,
     created_at, updated_at`

/** Oldest first: after (created_at, id). */
const ListPosition = z.tuple([TimestampSchema, z.uuid()])

/** A conversation's messages, oldest to newest; messages added while a client pages come last. */
export async function listMessages({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: ListQuery & { id: string }
}) {
  const after = readCursor(input.cursor, ListPosition)
  const rows = await withUser(
    ctx.claims,
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
}

/**
 * Stores a message in one of the user's conversations. The database moves the conversation's
 * updated_at and names an untitled one after it (20261125001100_chat_rules.sql).
 */
export async function createMessage({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: MessageCreate & { conversation_id: string }
}): Promise<Message> {
  // A conversation deleted while the message is stored fails the foreign key: to the client it is gone.
  const [row] = await withRules({ messages_conversation_fkey: conversationNotFound }, () =>
    withUser(
      ctx.claims,
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
}
