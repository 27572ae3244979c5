import type { SupabaseClient } from '@supabase/supabase-js'
import { decodeJwt } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  createConversation,
  Inbox,
  insertMessageAs,
  joinOutcome,
  type MessageRow,
  realtimeClient,
  subscribed,
  switchToken,
} from '../helpers/realtime-client.ts'
import { type ServedRealtime, serveRealtime } from '../helpers/realtime-server.ts'
import { adminSql, createUser, mintAccessToken, stack, type TestUser } from '../helpers/stack.ts'

// The local Realtime server driven by the real supabase-js client, as the frontend uses it. Each
// test waits for what must arrive; what must not arrive is checked once a later event, sent after
// it on the same socket, has arrived.

type Change = {
  eventType: 'INSERT' | 'UPDATE' | 'DELETE'
  new: Partial<MessageRow>
  old: Partial<MessageRow>
  commit_timestamp: string
  schema: string
  table: string
  errors: unknown
}
type BroadcastEvent = { event: string; payload: unknown; meta?: { id: string } }

const db = adminSql()
let realtime: ServedRealtime
const clients: SupabaseClient[] = []

beforeAll(async () => {
  realtime = await serveRealtime()
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.removeAllChannels()))
})
afterAll(async () => {
  await realtime.close()
  await db.end()
})

/** A token minted for `user` must name a live session of theirs, or Realtime refuses it. */
const sessionOf = (user: TestUser) => ({ session_id: decodeJwt(user.token).session_id })

async function client(token?: string): Promise<SupabaseClient> {
  const c = await realtimeClient(realtime.url, token)
  clients.push(c)
  return c
}

/** A user with a conversation and a client signed in as them. */
async function member(
  name: string,
): Promise<{ user: TestUser; conversation: string; client: SupabaseClient }> {
  const user = await createUser(name)
  return { user, conversation: await createConversation(db, user.id), client: await client(user.token) }
}

/**
 * Subscribes `c` to changes on public.messages; every change lands in the returned inbox.
 * `settled()` resolves once the server has handled everything the client sent before it.
 */
async function watchMessages(c: SupabaseClient, options: { event?: '*' | 'INSERT'; filter?: string } = {}) {
  const inbox = new Inbox<Change>()
  const channel = c
    .channel(`messages-${crypto.randomUUID()}`, { config: { broadcast: { ack: true } } })
    .on(
      'postgres_changes',
      { event: options.event ?? '*', schema: 'public', table: 'messages', filter: options.filter } as never,
      (change: Change) => inbox.push(change),
    )
  await subscribed(channel)
  const settled = async () =>
    expect(await channel.send({ type: 'broadcast', event: 'settle', payload: {} })).toBe('ok')
  return { channel, inbox, settled }
}

describe('postgres_changes on public.messages', () => {
  it('delivers an insert to its owner and never to another user', async () => {
    const a = await member('alice')
    const b = await member('bob')
    const seenByA = await watchMessages(a.client, { event: 'INSERT' })
    const seenByB = await watchMessages(b.client, { event: 'INSERT' })

    const first = await insertMessageAs(db, a.user.id, a.conversation, 'hello from alice')
    const second = await insertMessageAs(db, b.user.id, b.conversation, 'hello from bob')
    const last = await insertMessageAs(db, a.user.id, a.conversation, 'alice again')

    const received = await seenByA.inbox.next((c) => c.new.id === first.id, "alice's message")
    expect(received).toMatchObject({ eventType: 'INSERT', schema: 'public', table: 'messages', errors: null })
    expect(received.new).toMatchObject({
      id: first.id,
      user_id: a.user.id,
      conversation_id: a.conversation,
      role: 'user',
      content: 'hello from alice',
    })
    expect(new Date(received.commit_timestamp).toISOString()).toBe(received.commit_timestamp)
    await seenByB.inbox.next((c) => c.new.id === second.id, "bob's message")
    await seenByA.inbox.next((c) => c.new.id === last.id, "alice's second message")
    expect(seenByA.inbox.items.map((c) => c.new.id)).toEqual([first.id, last.id])
    expect(seenByB.inbox.items.map((c) => c.new.id)).toEqual([second.id])
  })

  it('applies a filter: only the named conversation', async () => {
    const a = await member('alice')
    const other = await createConversation(db, a.user.id, 'other')
    const watched = await watchMessages(a.client, { filter: `conversation_id=eq.${a.conversation}` })

    await insertMessageAs(db, a.user.id, other, 'elsewhere')
    const wanted = await insertMessageAs(db, a.user.id, a.conversation, 'here')

    await watched.inbox.next((c) => c.new.id === wanted.id, 'the message in the watched conversation')
    expect(watched.inbox.items.map((c) => c.new.content)).toEqual(['here'])
  })

  it('supports every filter operator realtime-js offers, negation and AND', async () => {
    const a = await member('alice')
    const filters = {
      eq: 'role=eq.assistant',
      neq: 'role=neq.user',
      in: 'role=in.(user,tool)',
      notIn: 'role=not.in.(user,tool)',
      like: 'content=like.Hello%',
      ilike: 'content=ilike.hello%',
      isNull: 'agent_id=is.null',
      notIsNull: 'agent_id=not.is.null',
      match: 'content=match.^B',
      imatch: 'content=imatch.^HELLO',
      isdistinct: 'agent_id=isdistinct.planner',
      gt: 'created_at=gt.2000-01-01T00:00:00Z',
      lt: 'created_at=lt.2000-01-01T00:00:00Z',
      gte: 'agent_id=gte.coach',
      lte: 'agent_id=lte.coach',
      quoted: 'content=eq."Bye, then"',
      and: `role=eq.assistant,agent_id=eq.planner,conversation_id=eq.${a.conversation}`,
    }
    const hits = new Map<string, string[]>()
    const all = new Inbox<Change>()
    let channel = a.client.channel('operators').on(
      'postgres_changes',
      {
        event: 'INSERT',
        schema: 'public',
        table: 'messages',
        filter: `conversation_id=eq.${a.conversation}`,
      },
      (change: Change) => all.push(change),
    )
    for (const [name, filter] of Object.entries(filters)) {
      hits.set(name, [])
      channel = channel.on(
        'postgres_changes',
        { event: 'INSERT', schema: 'public', table: 'messages', filter },
        (change: Change) => hits.get(name)?.push(change.new.content as string),
      )
    }
    await subscribed(channel)

    await insertMessageAs(db, a.user.id, a.conversation, 'Hello world')
    await insertMessageAs(db, a.user.id, a.conversation, 'hello there', {
      role: 'assistant',
      agent_id: 'planner',
    })
    await insertMessageAs(db, a.user.id, a.conversation, 'Bye, then', { role: 'tool', agent_id: 'coach' })
    // Every binding a change satisfies is named in the one message the channel gets for it.
    await all.count(3)

    expect(Object.fromEntries(hits)).toEqual({
      eq: ['hello there'],
      neq: ['hello there', 'Bye, then'],
      in: ['Hello world', 'Bye, then'],
      notIn: ['hello there'],
      like: ['Hello world'],
      ilike: ['Hello world', 'hello there'],
      isNull: ['Hello world'],
      notIsNull: ['hello there', 'Bye, then'],
      match: ['Bye, then'],
      imatch: ['Hello world', 'hello there'],
      isdistinct: ['Hello world', 'Bye, then'],
      gt: ['Hello world', 'hello there', 'Bye, then'],
      lt: [],
      gte: ['hello there', 'Bye, then'],
      lte: ['Bye, then'],
      quoted: ['Bye, then'],
      and: ['hello there'],
    })
  })

  it('sends updates with the primary key as old_record, and deletes with only the primary key', async () => {
    const a = await member('alice')
    const watched = await watchMessages(a.client)
    const row = await insertMessageAs(db, a.user.id, a.conversation, 'draft')
    await db`update public.messages set content = 'final' where id = ${row.id}`
    // RLS is checked when the change is delivered, so the row must still be there for its update.
    const update = await watched.inbox.next((c) => c.eventType === 'UPDATE' && c.new.id === row.id)
    await db`delete from public.messages where id = ${row.id}`
    // A delete cannot be checked against RLS (the row is gone), so like Supabase's Realtime every
    // subscriber gets every delete's primary key: other test files delete messages at the same time.
    const remove = await watched.inbox.next((c) => c.eventType === 'DELETE' && c.old.id === row.id)

    expect(update.eventType).toBe('UPDATE')
    expect(update.new).toMatchObject({ id: row.id, content: 'final', user_id: a.user.id })
    expect(update.old).toEqual({ id: row.id })
    expect(remove.eventType).toBe('DELETE')
    expect(remove.new).toEqual({})
    expect(remove.old).toEqual({ id: row.id })
  })

  it('sends only the selected columns (and the primary key) when asked to', async () => {
    const a = await member('alice')
    const inbox = new Inbox<Change>()
    const channel = a.client
      .channel('selected')
      .on(
        'postgres_changes',
        { event: 'INSERT', schema: 'public', table: 'messages', select: ['content'] },
        (change: Change) => inbox.push(change),
      )
    await subscribed(channel)
    const row = await insertMessageAs(db, a.user.id, a.conversation, 'just the text')
    expect((await inbox.next()).new).toEqual({ id: row.id, content: 'just the text' })
  })

  it('reports a subscription it cannot make in a system message', async () => {
    const a = await member('alice')
    const system = new Inbox<{ extension: string; status: string; message: string }>()
    const channel = a.client
      .channel('bad-filter')
      .on(
        'postgres_changes',
        { event: '*', schema: 'public', table: 'messages', filter: 'no_such=eq.1' },
        () => {},
      )
      .on('system', {}, system.push)
    await subscribed(channel)
    const report = await system.next()
    expect(report).toMatchObject({ extension: 'postgres_changes', status: 'error' })
    expect(report.message).toContain('invalid column for filter no_such')
  })
})

describe('private conversation channels', () => {
  it("admits the conversation's owner and refuses another user", async () => {
    const a = await member('alice')
    const b = await member('bob')

    const refused = await joinOutcome(
      b.client.channel(`conversation:${a.conversation}`, { config: { private: true } }),
    )
    expect(refused.status).toBe('CHANNEL_ERROR')
    expect(refused.error?.message).toBe(
      `Unauthorized: You do not have permissions to read from this Channel topic: conversation:${a.conversation}`,
    )

    await subscribed(a.client.channel(`conversation:${a.conversation}`, { config: { private: true } }))
  })

  it("carries the owner's broadcasts between the owner's clients", async () => {
    const a = await member('alice')
    const second = await client(a.user.token)
    const topic = `conversation:${a.conversation}`
    const sender = a.client.channel(topic, { config: { private: true, broadcast: { ack: true } } })
    const inbox = new Inbox<BroadcastEvent>()
    const receiver = second
      .channel(topic, { config: { private: true } })
      .on('broadcast', { event: 'token' }, inbox.push)
    await subscribed(sender)
    await subscribed(receiver)

    expect(await sender.send({ type: 'broadcast', event: 'token', payload: { text: 'Hel' } })).toBe('ok')
    expect(await inbox.next()).toMatchObject({ event: 'token', payload: { text: 'Hel' } })
  })

  it("syncs presence between the owner's clients on their private channel", async () => {
    const a = await member('alice')
    const second = await client(a.user.token)
    const topic = `conversation:${a.conversation}`
    const config = { config: { private: true, presence: { key: a.user.id } } }
    const syncs = new Inbox<null>()
    const laptop = a.client.channel(topic, config).on('presence', { event: 'sync' }, () => syncs.push(null))
    const phone = second.channel(topic, config).on('presence', { event: 'sync' }, () => {})
    await subscribed(laptop)
    await subscribed(phone)

    expect(await laptop.track({ typing: false })).toBe('ok')
    expect(await phone.track({ typing: true })).toBe('ok')
    await syncs.next(() => (laptop.presenceState()[a.user.id] ?? []).length === 2, 'both clients present')
  })

  it('keeps private and public channels of the same name apart', async () => {
    const a = await member('alice')
    const topic = `conversation:${a.conversation}`
    const publicInbox = new Inbox<BroadcastEvent>()
    await subscribed(a.client.channel(topic).on('broadcast', { event: '*' }, publicInbox.push))
    const privateInbox = new Inbox<BroadcastEvent>()
    const second = await client(a.user.token)
    await subscribed(
      second.channel(topic, { config: { private: true } }).on('broadcast', { event: '*' }, privateInbox.push),
    )

    await db`select realtime.send(${db.json({ n: 1 })}, 'private-only', ${topic}, true)`
    await db`select realtime.send(${db.json({ n: 2 })}, 'public-only', ${topic}, false)`
    await privateInbox.next((m) => m.event === 'private-only')
    await publicInbox.next((m) => m.event === 'public-only')
    expect(privateInbox.items.map((m) => m.event)).toEqual(['private-only'])
    expect(publicInbox.items.map((m) => m.event)).toEqual(['public-only'])
  })
})

describe('broadcast', () => {
  it('acknowledges a broadcast and echoes it to the sender with self', async () => {
    const [one, two] = [await client(), await client()]
    const own = new Inbox<BroadcastEvent>()
    const others = new Inbox<BroadcastEvent>()
    const sender = one
      .channel('room-self', { config: { broadcast: { self: true, ack: true } } })
      .on('broadcast', { event: 'cursor' }, own.push)
    await subscribed(sender)
    await subscribed(two.channel('room-self').on('broadcast', { event: 'cursor' }, others.push))

    expect(await sender.send({ type: 'broadcast', event: 'cursor', payload: { x: 1 } })).toBe('ok')
    expect(await own.next()).toEqual({ type: 'broadcast', event: 'cursor', payload: { x: 1 } })
    expect(await others.next()).toEqual({ type: 'broadcast', event: 'cursor', payload: { x: 1 } })
  })

  it('does not echo to the sender without self', async () => {
    const [one, two] = [await client(), await client()]
    const own = new Inbox<BroadcastEvent>()
    const others = new Inbox<BroadcastEvent>()
    const sender = one.channel('room-quiet').on('broadcast', { event: '*' }, own.push)
    await subscribed(sender)
    const peer = two.channel('room-quiet').on('broadcast', { event: '*' }, others.push)
    await subscribed(peer)

    await sender.send({ type: 'broadcast', event: 'one', payload: {} })
    await peer.send({ type: 'broadcast', event: 'two', payload: {} })
    await others.next((m) => m.event === 'one')
    await own.next((m) => m.event === 'two')
    expect(own.items.map((m) => m.event)).toEqual(['two'])
    expect(others.items.map((m) => m.event)).toEqual(['one'])
  })

  it('relays binary payloads as binary', async () => {
    const [one, two] = [await client(), await client()]
    const inbox = new Inbox<BroadcastEvent>()
    const sender = one.channel('room-binary')
    await subscribed(sender)
    await subscribed(two.channel('room-binary').on('broadcast', { event: 'blob' }, inbox.push))

    await sender.send({ type: 'broadcast', event: 'blob', payload: new Uint8Array([1, 2, 250]).buffer })
    const received = await inbox.next()
    expect(received.payload).toBeInstanceOf(ArrayBuffer)
    expect([...new Uint8Array(received.payload as ArrayBuffer)]).toEqual([1, 2, 250])
  })

  it('delivers realtime.send() from the database with the message id', async () => {
    const a = await member('alice')
    const inbox = new Inbox<BroadcastEvent>()
    const topic = `conversation:${a.conversation}`
    await subscribed(
      a.client.channel(topic, { config: { private: true } }).on('broadcast', { event: 'done' }, inbox.push),
    )

    await db`select realtime.send(${db.json({ message_id: 'm1' })}, 'done', ${topic})`
    const received = await inbox.next()
    expect(received).toMatchObject({ type: 'broadcast', event: 'done', payload: { message_id: 'm1' } })
    const [stored] = await db`select id from realtime.messages where topic = ${topic} and event = 'done'`
    expect(received.meta).toEqual({ id: stored.id })
  })
})

describe('REST broadcast', () => {
  async function post(path: string, token: string, body: unknown, contentType = 'application/json') {
    return fetch(`${realtime.url}/realtime/v1/api/broadcast${path}`, {
      method: 'POST',
      headers: { apikey: stack.anonKey, authorization: `Bearer ${token}`, 'content-type': contentType },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
  }

  it('accepts a batch with the service key and delivers it', async () => {
    const inbox = new Inbox<BroadcastEvent>()
    await subscribed((await client()).channel('news').on('broadcast', { event: 'headline' }, inbox.push))

    const response = await post('', stack.serviceRoleKey, {
      messages: [{ topic: 'news', event: 'headline', payload: { title: 'Realtime works' } }],
    })
    expect(response.status).toBe(202)
    expect(await inbox.next()).toMatchObject({ event: 'headline', payload: { title: 'Realtime works' } })
  })

  it('lets the owner send to their private topic with httpSend and refuses another user', async () => {
    const a = await member('alice')
    const b = await member('bob')
    const topic = `conversation:${a.conversation}`
    const inbox = new Inbox<BroadcastEvent>()
    await subscribed(
      a.client.channel(topic, { config: { private: true } }).on('broadcast', { event: '*' }, inbox.push),
    )

    const intruder = b.client.channel(topic, { config: { private: true } })
    await expect(intruder.httpSend('spoof', { text: 'hi' })).rejects.toThrow('Unauthorized')
    const batch = await post('', b.user.token, {
      messages: [{ topic, event: 'spoof', payload: {}, private: true }],
    })
    expect(batch.status).toBe(202)

    const owner = (await client(a.user.token)).channel(topic, { config: { private: true } })
    expect(await owner.httpSend('token', { text: 'Hi' })).toEqual({ success: true })
    expect(await inbox.next()).toMatchObject({ event: 'token', payload: { text: 'Hi' } })
    expect(inbox.items.map((m) => m.event)).toEqual(['token'])
  })

  it('refuses a missing or forged token and a bad body', async () => {
    expect((await post('', 'not-a-token', { messages: [] })).status).toBe(401)
    const forged = `${stack.serviceRoleKey.slice(0, -4)}AAAA`
    expect((await post('', forged, { messages: [] })).status).toBe(401)
    expect((await post('', stack.serviceRoleKey, '{nope')).status).toBe(400)
    expect((await post('', stack.serviceRoleKey, { messages: [{ topic: 'x' }] })).status).toBe(422)
    expect((await post('/x/events/y', stack.serviceRoleKey, 'text', 'text/plain')).status).toBe(415)
  })
})

describe('presence', () => {
  it("syncs two clients of one user, and one's leaving", async () => {
    const user = await createUser('alice')
    const [laptop, phone] = [await client(user.token), await client(user.token)]
    const config = { config: { presence: { key: user.id } } }
    const leaves = new Inbox<{ key: string }>()
    const syncsOne = new Inbox<null>()
    const syncsTwo = new Inbox<null>()
    const one = laptop
      .channel('room-presence', config)
      .on('presence', { event: 'sync' }, () => syncsOne.push(null))
      .on('presence', { event: 'leave' }, leaves.push)
    const two = phone
      .channel('room-presence', config)
      .on('presence', { event: 'sync' }, () => syncsTwo.push(null))
    await subscribed(one)
    await subscribed(two)

    expect(await one.track({ device: 'laptop' })).toBe('ok')
    expect(await two.track({ device: 'phone' })).toBe('ok')
    const devices = (channel: typeof one) =>
      (channel.presenceState<{ device: string }>()[user.id] ?? []).map((p) => p.device).sort()
    await syncsOne.next(() => devices(one).length === 2, "both devices in the laptop's presence")
    await syncsTwo.next(() => devices(two).length === 2, "both devices in the phone's presence")
    expect(devices(one)).toEqual(['laptop', 'phone'])
    expect(Object.keys(two.presenceState())).toEqual([user.id])

    expect(await two.untrack()).toBe('ok')
    expect(await leaves.next()).toMatchObject({ key: user.id })
    expect(devices(one)).toEqual(['laptop'])
  })
})

describe('tokens', () => {
  it('keeps a channel working across a token refresh', async () => {
    const a = await member('alice')
    const watched = await watchMessages(a.client)
    await switchToken(a.client, await mintAccessToken({ sub: a.user.id, claims: sessionOf(a.user) }))
    await watched.settled()
    const row = await insertMessageAs(db, a.user.id, a.conversation, 'after refresh')
    await watched.inbox.next((c) => c.new.id === row.id)
  })

  it("delivers by the refreshed token's claims", async () => {
    const a = await member('alice')
    const b = await member('bob')
    const watched = await watchMessages(a.client)
    await switchToken(a.client, b.user.token)
    await watched.settled()

    await insertMessageAs(db, a.user.id, a.conversation, "alice's")
    const bobs = await insertMessageAs(db, b.user.id, b.conversation, "bob's")
    await watched.inbox.next((c) => c.new.id === bobs.id)
    expect(watched.inbox.items.map((c) => c.new.content)).toEqual(["bob's"])
  })

  it('closes the channel when refreshed with an expired token', async () => {
    const a = await member('alice')
    const system = new Inbox<{ status: string; message: string }>()
    const channel = a.client.channel('expiring').on('system', {}, system.push)
    const statuses = await subscribed(channel)

    await switchToken(a.client, await mintAccessToken({ sub: a.user.id, expiresIn: -10 }))
    expect(await system.next((m) => m.status === 'error')).toMatchObject({
      message: expect.stringMatching(/^Token has expired \d+ seconds ago$/),
    })
    await statuses.next('CLOSED')
  })

  it('closes the channel when its token expires', async () => {
    const user = await createUser('alice')
    const c = await client(await mintAccessToken({ sub: user.id, expiresIn: 2, claims: sessionOf(user) }))
    const statuses = await subscribed(c.channel('short-lived'))
    await statuses.next('CLOSED')
  })

  it('refuses to join with an expired token', async () => {
    const user = await createUser('alice')
    const c = await client(await mintAccessToken({ sub: user.id, expiresIn: -5 }))
    const outcome = await joinOutcome(c.channel('late'))
    expect(outcome.status).toBe('CHANNEL_ERROR')
    expect(outcome.error?.message).toMatch(/^InvalidJWTToken: Token has expired \d+ seconds ago$/)
  })
})

describe('connection loss', () => {
  it('resubscribes after the socket drops and delivers again', async () => {
    const a = await member('alice')
    const inbox = new Inbox<Change>()
    const channel = a.client
      .channel('resilient')
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'messages' }, inbox.push)
    const statuses = await subscribed(channel)

    // What a network drop looks like to the client: the socket dies without a close handshake.
    const socket = (
      a.client.realtime as unknown as { socketAdapter: { getSocket(): { conn: { terminate(): void } } } }
    ).socketAdapter
    socket.getSocket().conn.terminate()
    await statuses.next('SUBSCRIBED', 2)

    const row = await insertMessageAs(db, a.user.id, a.conversation, 'after reconnect')
    await inbox.next((c) => c.new.id === row.id)
  })
})

describe('through the stack gateway', () => {
  it('serves Realtime at /realtime/v1 of the API URL', async () => {
    const c = await realtimeClient(stack.apiUrl)
    clients.push(c)
    const inbox = new Inbox<BroadcastEvent>()
    const channel = c
      .channel('gateway', { config: { broadcast: { self: true, ack: true } } })
      .on('broadcast', { event: 'ping' }, inbox.push)
    await subscribed(channel)
    expect(await channel.send({ type: 'broadcast', event: 'ping', payload: {} })).toBe('ok')
    await inbox.next()
  })
})
