import { createClient, type SupabaseClient, type WebSocketLikeConstructor } from '@supabase/supabase-js'
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { Inbox, joinOutcome } from '../helpers/realtime-client.ts'
import { stack, TEST_PASSWORD } from '../helpers/stack.ts'

// The README's "Chat over Realtime" example, as written there, with supabase-js over the `ws`
// transport against the stack: a signed-in client hears its new messages and its private channel.
// And the pitfall the README warns about: `realtime.setAuth(token)` without signing in lasts only
// for the first join; supabase-js sends the anon key on the next ones.

// As the README has it: Node 20 has no WebSocket of its own, and ws's constructor types need a cast.
const transport = WebSocket as unknown as WebSocketLikeConstructor
const API_URL = stack.apiUrl
const ANON_KEY = stack.anonKey
const clients: SupabaseClient[] = []
afterAll(async () => {
  await Promise.all(clients.map((client) => client.removeAllChannels()))
})

type Message = { id: string; content: string }

/** A new user's email, and a conversation of theirs started through the chat function. */
async function newUserWithConversation() {
  const email = `readme-${crypto.randomUUID().slice(0, 8)}@example.test`
  const setup = createClient(API_URL, ANON_KEY, { auth: { persistSession: false }, realtime: { transport } })
  const { data, error } = await setup.auth.signUp({ email, password: TEST_PASSWORD })
  expect(error).toBeNull()
  const started = await setup.functions.invoke('chat/conversations', { method: 'POST', body: {} })
  expect(started.error).toBeNull()
  return {
    email,
    token: data.session?.access_token as string,
    conversationId: (started.data as { id: string }).id,
  }
}

/** What the server side does while an agent answers: broadcasts on the private channel. */
async function broadcastToken(conversationId: string, text: string) {
  const response = await fetch(`${API_URL}/realtime/v1/api/broadcast`, {
    method: 'POST',
    headers: {
      apikey: stack.serviceRoleKey,
      authorization: `Bearer ${stack.serviceRoleKey}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      messages: [
        { topic: `conversation:${conversationId}`, event: 'token', payload: { text }, private: true },
      ],
    }),
  })
  expect(response.status).toBe(202)
}

const subscribedStatus = (channel: ReturnType<SupabaseClient['channel']>) =>
  new Promise<string>((resolve) =>
    channel.subscribe((status, error) => {
      if (status !== 'SUBSCRIBED' && status !== 'CHANNEL_ERROR') return
      resolve(error ? `${status}: ${error.message}` : status)
    }),
  )

describe("the README's Realtime example", () => {
  it('delivers new messages and the private channel to a signed-in client, as written', async () => {
    const { email, conversationId } = await newUserWithConversation()
    const password = TEST_PASSWORD
    const shown = new Inbox<Message>()
    const appended = new Inbox<{ text: string }>()
    const show = (message: Message) => shown.push(message)
    const append = (payload: { text: string }) => appended.push(payload)

    // ---- as in README.md ----
    const supabase = createClient(API_URL, ANON_KEY, { realtime: { transport } })
    await supabase.auth.signInWithPassword({ email, password })
    const messages = supabase.channel(`messages:${conversationId}`).on(
      'postgres_changes',
      {
        event: 'INSERT',
        schema: 'public',
        table: 'messages',
        filter: `conversation_id=eq.${conversationId}`,
      },
      ({ new: message }) => show(message as Message),
    )
    const tokens = supabase
      .channel(`conversation:${conversationId}`, { config: { private: true } })
      .on('broadcast', { event: 'token' }, ({ payload }) => append(payload))
    // ---- end ----
    clients.push(supabase)
    expect(await subscribedStatus(messages)).toBe('SUBSCRIBED')
    expect(await subscribedStatus(tokens)).toBe('SUBSCRIBED')

    const posted = await supabase.functions.invoke(`chat/conversations/${conversationId}/messages`, {
      method: 'POST',
      body: { content: 'hello over Realtime' },
    })
    expect(posted.error).toBeNull()
    expect(await shown.next()).toMatchObject({ content: 'hello over Realtime' })
    await broadcastToken(conversationId, 'Hel')
    expect(await appended.next()).toEqual({ text: 'Hel' })
  })

  it('works for a client created with accessToken instead of signing in', async () => {
    const { token, conversationId } = await newUserWithConversation()
    const supabase = createClient(API_URL, ANON_KEY, {
      accessToken: async () => token,
      realtime: { transport },
    })
    clients.push(supabase)
    await supabase.realtime.setAuth()
    for (const name of ['first', 'second']) {
      const channel = supabase.channel(`conversation:${conversationId}`, { config: { private: true } })
      expect(await subscribedStatus(channel), name).toBe('SUBSCRIBED')
      await supabase.removeChannel(channel)
    }
  })

  it('is why the README says to sign in: realtime.setAuth(token) alone lasts one join', async () => {
    const { token, conversationId } = await newUserWithConversation()
    const supabase = createClient(API_URL, ANON_KEY, {
      auth: { persistSession: false },
      realtime: { transport },
    })
    clients.push(supabase)
    await supabase.realtime.setAuth(token)
    const first = supabase.channel(`conversation:${conversationId}`, { config: { private: true } })
    expect(await subscribedStatus(first)).toBe('SUBSCRIBED')
    const second = await joinOutcome(
      supabase.channel(`conversation:${conversationId}:again`, { config: { private: true } }),
    )
    expect(second.status).toBe('CHANNEL_ERROR')
    expect(second.error?.message).toMatch(/^Unauthorized: You do not have permissions to read/)
  })
})
