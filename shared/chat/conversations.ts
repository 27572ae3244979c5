import { z } from '@hono/zod-openapi'
import { type ServiceContext, withUser } from '../db/with-user.ts'
import { jsonParam } from '../domain/columns.ts'
import { readCursor } from '../domain/cursor.ts'
import { TimestampSchema } from '../domain/schemas.ts'
import { NotFoundError } from '../http/errors.ts'
import { type ListQuery, page } from '../http/pagination.ts'
import type { Conversation, ConversationCreate } from './schemas.ts'

export const CONVERSATION_COLUMNS = [
  'id',
  'user_id',
  'title',
  'metadata',
  'created_at',
  'updated_at',
] as const

export const conversationNotFound = () => new NotFoundError('No such conversation')

/** Latest activity first: after (updated_at, id), descending. */
const ListPosition = z.tuple([TimestampSchema, z.uuid()])

/**
 * The user's conversations, the one with the latest message first. A conversation that gets a
 * message while a client pages moves to the top: the client sees it by starting again (or by
 * following the conversations table over Realtime), and never sees one twice.
 */
export async function listConversations({ ctx, input }: { ctx: ServiceContext; input: ListQuery }) {
  const after = readCursor(input.cursor, ListPosition)
  const rows = await withUser(
    ctx.claims,
    (tx) => tx<Conversation[]>`
      select ${tx(CONVERSATION_COLUMNS)} from public.conversations
      where user_id = ${ctx.userId}
        ${after ? tx`and (updated_at, id) < (${after[0]}::timestamptz, ${after[1]}::uuid)` : tx``}
      order by updated_at desc, id desc
      limit ${input.limit + 1}`,
    ctx.tx,
  )
  return page(rows, input.limit, (row) => [row.updated_at, row.id])
}

export async function getConversation({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: { id: string }
}): Promise<Conversation> {
  const [row] = await withUser(
    ctx.claims,
    (tx) => tx<Conversation[]>`
      select ${tx(CONVERSATION_COLUMNS)} from public.conversations where id = ${input.id}`,
    ctx.tx,
  )
  if (!row) throw conversationNotFound()
  return row
}

export async function createConversation({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: ConversationCreate
}): Promise<Conversation> {
  const [row] = await withUser(
    ctx.claims,
    (tx) => tx<Conversation[]>`
      insert into public.conversations (user_id, title, metadata)
      values (${ctx.userId}, ${input.title}, ${jsonParam(tx, input.metadata)})
      returning ${tx(CONVERSATION_COLUMNS)}`,
    ctx.tx,
  )
  return row
}

/** Deletes the conversation; its messages go with it (the foreign key cascades). */
export async function deleteConversation({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: { id: string }
}): Promise<void> {
  const deleted = await withUser(
    ctx.claims,
    (tx) => tx`delete from public.conversations where id = ${input.id} returning 1`,
    ctx.tx,
  )
  if (deleted.length === 0) throw conversationNotFound()
}
