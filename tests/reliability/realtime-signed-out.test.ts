import { decodeJwt } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { authClient } from '../helpers/gotrue.ts'
import { createConversation, Inbox, subscribed } from '../helpers/realtime-client.ts'
import { type ServedRealtime, serveRealtime } from '../helpers/realtime-server.ts'
import { RawSocket, type TextFrame } from '../helpers/realtime-socket.ts'
import { adminSql, stack, TEST_PASSWORD } from '../helpers/stack.ts'

// After a sign-out the functions refuse the session's access tokens at once (ADR 0009), but
// Realtime took them until they expired: the same token still joined `conversation:{id}` and
// postgres_changes, on the old socket and on new ones, and kept receiving rows and broadcasts.
// Realtime now checks the session at join, at `access_token` and every few seconds, and closes the
// channels of a session that ended with the system message hosted Realtime sends for a token that
// stopped being valid.

const SESSION_ENDED = "This token's session has ended"
const db = adminSql()
const sockets: RawSocket[] = []
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close()
})
afterAll(() => db.end())

async function open(base: string): Promise<RawSocket> {
  const socket = await RawSocket.open(base)
  sockets.push(socket)
  return socket
}

/** A user signed up through the stack, with a conversation of their own. */
async function member() {
  const email = `realtime-${crypto.randomUUID().slice(0, 8)}@example.test`
  const signUp = await fetch(`${stack.apiUrl}/auth/v1/signup`, {
    method: 'POST',
    headers: { apikey: stack.anonKey, 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: TEST_PASSWORD }),
  })
  const session = (await signUp.json()) as { access_token: string; user: { id: string } }
  return {
    email,
    token: session.access_token,
    id: session.user.id,
    conversation: await createConversation(db, session.user.id),
  }
}

/** Another session of the same user: its access token. */
async function signIn(email: string): Promise<string> {
  const response = await fetch(`${stack.apiUrl}/auth/v1/token?grant_type=password`, {
    method: 'POST',
    headers: { apikey: stack.anonKey, 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: TEST_PASSWORD }),
  })
  return ((await response.json()) as { access_token: string }).access_token
}

async function signOut(token: string, scope: 'global' | 'local'): Promise<void> {
  const response = await fetch(`${stack.apiUrl}/auth/v1/logout?scope=${scope}`, {
    method: 'POST',
    headers: { apikey: stack.anonKey, authorization: `Bearer ${token}` },
  })
  expect(response.status).toBe(204)
}

/** Joins the conversation's private channel and its message changes on `socket` with `token`. */
async function listen(socket: RawSocket, token: string, conversation: string) {
  const broadcast = await socket.join(`realtime:conversation:${conversation}`, {
    config: { private: true, broadcast: { self: false } },
    access_token: token,
  })
  const changes = await socket.join(`realtime:messages:${conversation}`, {
    config: {
      postgres_changes: [
        { event: '*', schema: 'public', table: 'messages', filter: `conversation_id=eq.${conversation}` },
      ],
    },
    access_token: token,
  })
  return { broadcast, changes }
}

/** The system error and phx_close a server-side close of `topic` sends. */
async function shutdownOf(socket: RawSocket, topic: string, joinRef: string) {
  const system = await socket.next(
    (f): f is TextFrame =>
      f.kind === 'text' && f.topic === topic && f.event === 'system' && f.payload.extension === 'system',
    `the system message on ${topic}`,
  )
  const close = await socket.next(
    (f): f is TextFrame => f.kind === 'text' && f.topic === topic && f.event === 'phx_close',
    `phx_close on ${topic}`,
  )
  expect(system).toMatchObject({
    joinRef,
    payload: { extension: 'system', status: 'error', message: SESSION_ENDED, channel: topic.slice(9) },
  })
  expect(close.joinRef).toBe(joinRef)
}

describe('a signed-out session on the stack', () => {
  it("closes the session's channels, and its token joins nothing on a new socket", async () => {
    const user = await member()
    const old = await open(stack.apiUrl)
    const refs = await listen(old, user.token, user.conversation)

    await signOut(await signIn(user.email), 'global')
    await shutdownOf(old, `realtime:conversation:${user.conversation}`, refs.broadcast)
    await shutdownOf(old, `realtime:messages:${user.conversation}`, refs.changes)

    const fresh = await open(stack.apiUrl)
    for (const topic of [
      `realtime:conversation:${user.conversation}`,
      `realtime:messages:${user.conversation}`,
    ]) {
      const ref = fresh.nextRef()
      fresh.push(
        topic,
        'phx_join',
        { config: { private: topic.includes('conversation:') }, access_token: user.token },
        ref,
        ref,
      )
      expect((await fresh.reply(ref)).payload).toEqual({
        status: 'error',
        response: { reason: `InvalidJWTToken: ${SESSION_ENDED}` },
      })
    }
    const rest = await fetch(`${stack.apiUrl}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: {
        apikey: stack.anonKey,
        authorization: `Bearer ${user.token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        messages: [
          { topic: `conversation:${user.conversation}`, event: 'token', payload: {}, private: true },
        ],
      }),
    })
    expect(rest.status).toBe(401)
  })

  it('tells a supabase-js client why its channel closed', async () => {
    const user = await member()
    const client = authClient(stack.apiUrl)
    const { error } = await client.auth.signInWithPassword({ email: user.email, password: TEST_PASSWORD })
    expect(error).toBeNull()
    const system = new Inbox<{ extension: string; status: string; message: string }>()
    const channel = client
      .channel(`conversation:${user.conversation}`, { config: { private: true } })
      .on('system', {}, system.push)
    const statuses = await subscribed(channel)

    await signOut(await signIn(user.email), 'global')
    expect(await system.next((m) => m.status === 'error')).toMatchObject({
      extension: 'system',
      message: SESSION_ENDED,
    })
    await statuses.next('CLOSED')
    await client.removeAllChannels()
  })
})

describe('a session that ends while its channels are joined', () => {
  let realtime: ServedRealtime
  beforeAll(async () => {
    realtime = await serveRealtime({ sessionCheckMs: 100 })
  })
  afterAll(() => realtime.close())

  it('is noticed by the periodic check, however it ended', async () => {
    const user = await member()
    const socket = await open(realtime.url)
    const refs = await listen(socket, user.token, user.conversation)
    // Ended behind the auth service's back, as an admin revoking it in SQL would.
    await db`delete from auth.sessions where id = ${decodeJwt(user.token).session_id as string}`
    await shutdownOf(socket, `realtime:conversation:${user.conversation}`, refs.broadcast)
    await shutdownOf(socket, `realtime:messages:${user.conversation}`, refs.changes)
  })
})

describe('an access_token refresh to a signed-out token', () => {
  let realtime: ServedRealtime
  beforeAll(async () => {
    // A check that never comes during the test: only the refresh itself may close the channel.
    realtime = await serveRealtime({ sessionCheckMs: 600_000 })
  })
  afterAll(() => realtime.close())

  it('closes the channel instead of taking the token', async () => {
    const user = await member()
    const socket = await open(realtime.url)
    const topic = `realtime:conversation:${user.conversation}`
    const joinRef = await socket.join(topic, { config: { private: true }, access_token: user.token })
    const other = await signIn(user.email)
    await signOut(other, 'local')

    socket.push(topic, 'access_token', { access_token: other }, joinRef)
    await shutdownOf(socket, topic, joinRef)
  })
})
