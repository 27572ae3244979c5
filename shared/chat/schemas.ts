import { z } from '@hono/zod-openapi'
import { listQuerySchema } from '../core/pages.ts'
import { FlagSchema, IdInputSchema, MetadataSchema, TimestampSchema } from '../core/schemas.ts'

/** A message's text may take this many bytes of UTF-8, as the messages table checks. */
export const MAX_MESSAGE_BYTES = 32 * 1024

const utf8Bytes = (text: string) => new TextEncoder().encode(text).length

// Postgres text cannot hold NUL; refused here, it would otherwise fail the insert.
const noNul = (text: string) => !text.includes('\u0000')
const NUL_MESSAGE = 'must not contain NUL characters'

export const MessageRoleSchema = z.enum(['user', 'assistant', 'system', 'tool']).openapi('MessageRole')

export const ConversationSchema = z
  .object({
    id: z.uuid(),
    user_id: z.uuid(),
    title: z
      .string()
      .nullable()
      .openapi({ description: 'Null until named; then defaults from the first user message' }),
    metadata: z.record(z.string(), z.unknown()),
    created_at: TimestampSchema,
    updated_at: TimestampSchema.openapi({ description: 'The last activity: moves with every new message' }),
  })
  .openapi('Conversation')

export const ConversationCreateSchema = z
  .strictObject({
    title: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .refine(noNul, NUL_MESSAGE)
      .nullable()
      .default(null)
      .openapi({ description: 'Leave it out to name the conversation after its first message' }),
    metadata: MetadataSchema.default({}),
  })
  .openapi('ConversationCreate')

export const MessageSchema = z
  .object({
    id: z.uuid(),
    user_id: z.uuid(),
    conversation_id: z.uuid(),
    role: MessageRoleSchema,
    content: z.string(),
    agent_id: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()),
    created_at: TimestampSchema,
    updated_at: TimestampSchema,
  })
  .openapi('Message')

/**
 * What a client posts: its own words. Assistant, system and tool messages are written by the
 * agents in the ai function, never by clients, so `role` accepts only `user`.
 */
export const MessageCreateSchema = z
  .strictObject({
    content: z
      .string()
      .refine((text) => text.trim().length > 0, 'must not be blank')
      .refine(
        (text) => utf8Bytes(text) <= MAX_MESSAGE_BYTES,
        `must be at most ${MAX_MESSAGE_BYTES} bytes of UTF-8`,
      )
      .refine(noNul, NUL_MESSAGE)
      .openapi({ description: `The message text, at most ${MAX_MESSAGE_BYTES} bytes of UTF-8` }),
    role: z.literal('user').default('user').openapi({
      description: 'Only `user`: assistant, system and tool messages are written by the ai function',
    }),
    agent_id: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .refine(noNul, NUL_MESSAGE)
      .nullable()
      .default(null)
      .openapi({ description: 'The agent the message is addressed to; null for the default one' }),
    metadata: MetadataSchema.default({}),
  })
  .openapi('MessageCreate')

/** A message to store: the client's fields and the conversation it goes to. */
export const MessageInputSchema = MessageCreateSchema.extend({ conversation_id: z.uuid() })

/** The input of listing a conversation's messages: the conversation, and the page. */
export const MessagesQuerySchema = listQuerySchema.extend(IdInputSchema.shape)

export type Conversation = z.infer<typeof ConversationSchema>
export type ConversationCreate = z.infer<typeof ConversationCreateSchema>
export type Message = z.infer<typeof MessageSchema>
export type MessageCreate = z.infer<typeof MessageCreateSchema>

/** What a client posts to a conversation: its message, and whether an agent should answer it. */
export const MessagePostSchema = MessageCreateSchema.extend({
  respond: FlagSchema.default(true).openapi({
    description: 'Hand the message to the agent (`agent_id`, else the coordinator) to answer; default true',
  }),
}).openapi('MessagePost')

/** The run answering a posted message, as the ai function started it. */
export const HandedRunSchema = z
  .object({
    id: z.uuid(),
    status: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
  })
  .openapi('HandedRun')

export const MessagePostedSchema = MessageSchema.extend({
  run: HandedRunSchema.nullable().optional().openapi({
    description:
      'With `respond`: the run answering it (its output streams to `conversation:{id}`), or null with run_error',
  }),
  run_error: z
    .object({ code: z.string(), message: z.string() })
    .optional()
    .openapi({ description: 'Why no run was started (e.g. rate_limited), when `respond` asked for one' }),
}).openapi('MessagePosted')

export type MessagePost = z.infer<typeof MessagePostSchema>
