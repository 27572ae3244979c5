import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { overHttp } from '../helpers/domain.ts'
import { Inbox, subscribed } from '../helpers/realtime-client.ts'
import { securitySuite } from '../helpers/security.ts'
import { stack } from '../helpers/stack.ts'
import { chatScenarios, chatSecurity } from '../scenarios/chat.ts'

const target = overHttp()
chatScenarios(target)
// The shared security suite over HTTP, through the gateway to the function under Deno.
await securitySuite({ ...chatSecurity, app: target.requestTarget })

type Row = Record<string, unknown>
type Change = { eventType: string; table: string; new: Row; old: Row }

// What a frontend does: sign in with supabase-js, post through the chat function, and follow its
// messages over Realtime. RLS alone keeps one user's messages from the other's subscription.
describe('chat with supabase-js: functions and Realtime', () => {
  const clients: SupabaseClient[] = []

  async function signedIn(name: string) {
    const client = createClient(stack.apiUrl, stack.anonKey, {
      realtime: { transport: WebSocket as never },
      auth: { persistSession: false, autoRefreshToken: false },
    })
    clients.push(client)
    const { data, error } = await client.auth.signUp({
      email: `${name}-${crypto.randomUUID().slice(0, 12)}@example.test`,
      password: 'correct-horse-1',
    })
    expect(error).toBeNull()
    const token = data.session?.access_token as string
    await client.realtime.setAuth(token)
    const started = await client.functions.invoke('chat/conversations', { method: 'POST', body: {} })
    expect(started.error).toBeNull()
    return { client, userId: data.user?.id as string, conversationId: (started.data as { id: string }).id }
  }

  /** Every change to messages and conversations the client may see, on one channel. */
  async function follow(client: SupabaseClient, filter?: string) {
    const inbox = new Inbox<Change>()
    const channel = client
      .channel(`chat-${crypto.randomUUID()}`)
      .on(
        'postgres_changes',
        { event: 'INSERT', schema: 'public', table: 'messages', filter } as never,
        (change: Change) => inbox.push(change),
      )
      .on(
        'postgres_changes',
        { event: 'UPDATE', schema: 'public', table: 'conversations' } as never,
        (change: Change) => inbox.push(change),
      )
    await subscribed(channel)
    return inbox
  }

  const postMessage = async (client: SupabaseClient, conversationId: string, content: string) => {
    const { data, error } = await client.functions.invoke(`chat/conversations/${conversationId}/messages`, {
      method: 'POST',
      body: { content },
    })
    expect(error).toBeNull()
    return data as { id: string; content: string }
  }

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.removeAllChannels()))
  })

  let alice: Awaited<ReturnType<typeof signedIn>>
  let bob: Awaited<ReturnType<typeof signedIn>>

  beforeAll(async () => {
    alice = await signedIn('alice')
    bob = await signedIn('bob')
  })

  it('delivers a posted message to its owner’s postgres_changes and never to another user', async () => {
    const seenByAlice = await follow(alice.client)
    const seenByBob = await follow(bob.client)
    // Bob even names Alice's conversation in a filter: RLS still hides it.
    const bobSpying = await follow(bob.client, `conversation_id=eq.${alice.conversationId}`)

    const posted = await postMessage(alice.client, alice.conversationId, 'Plan my week\nwith care')
    const bobs = await postMessage(bob.client, bob.conversationId, 'Bob’s own')

    const insert = await seenByAlice.next(
      (c) => c.table === 'messages' && c.new.id === posted.id,
      'alice’s message',
    )
    expect(insert).toMatchObject({
      eventType: 'INSERT',
      new: {
        id: posted.id,
        user_id: alice.userId,
        conversation_id: alice.conversationId,
        role: 'user',
        content: 'Plan my week\nwith care',
      },
    })
    // The database named the conversation after the message, and Alice hears of it too.
    const renamed = await seenByAlice.next(
      (c) => c.table === 'conversations' && c.new.title === 'Plan my week',
      'the conversation named after the message',
    )
    expect(renamed.new).toMatchObject({ id: alice.conversationId, user_id: alice.userId })

    // Bob's own message was committed after Alice's: once it has arrived, Alice's would have too.
    await seenByBob.next((c) => c.table === 'messages' && c.new.id === bobs.id, 'bob’s message')
    await seenByBob.next(
      (c) => c.table === 'conversations' && c.new.id === bob.conversationId,
      'bob’s rename',
    )
    await bobSpying.next((c) => c.table === 'conversations', 'bob’s rename on the filtered channel')
    const bobSaw = [...seenByBob.items, ...bobSpying.items]
    expect(bobSaw.every((c) => c.new.user_id === bob.userId)).toBe(true)
    expect(bobSpying.items).toEqual([
      expect.objectContaining({
        table: 'conversations',
        new: expect.objectContaining({ id: bob.conversationId }),
      }),
    ])
    expect(seenByAlice.items.every((c) => c.new.user_id === alice.userId)).toBe(true)
  })
})
