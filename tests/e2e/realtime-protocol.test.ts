import { request as httpRequest } from 'node:http'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type ServedRealtime, serveRealtime } from '../helpers/realtime-server.ts'
import {
  type Frame,
  RawSocket,
  type TextFrame,
  readUserBroadcast,
  userBroadcastPush,
} from '../helpers/realtime-socket.ts'
import { adminSql, createUser, stack } from '../helpers/stack.ts'

// The Phoenix protocol (vsn 2.0.0 and 1.0.0) frame by frame, with a bare WebSocket: what
// realtime-js relies on without showing it.

const db = adminSql()
let realtime: ServedRealtime
const sockets: RawSocket[] = []

beforeAll(async () => {
  realtime = await serveRealtime()
})
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close()
})
afterAll(async () => {
  await realtime.close()
  await db.end()
})

async function open(vsn: '1.0.0' | '2.0.0' = '2.0.0'): Promise<RawSocket> {
  const socket = await RawSocket.open(realtime.url, vsn)
  sockets.push(socket)
  return socket
}

/** A WebSocket handshake that the server answers with an HTTP error instead of switching protocols. */
function handshake(query: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${realtime.url}/realtime/v1/websocket?${query}`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    })
    request.on('response', (response) => {
      let body = ''
      response.on('data', (chunk) => {
        body += chunk
      })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(body) }))
    })
    request.on('upgrade', () => reject(new Error('the server accepted the handshake')))
    request.on('error', reject)
    request.end()
  })
}

const text = (f: Frame): f is TextFrame => f.kind === 'text'

describe('the socket', () => {
  it('answers a heartbeat', async () => {
    const socket = await open()
    const ref = socket.push('phoenix', 'heartbeat', {})
    expect(await socket.reply(ref)).toMatchObject({
      joinRef: null,
      topic: 'phoenix',
      event: 'phx_reply',
      payload: { status: 'ok', response: {} },
    })
  })

  it('refuses a connection without a valid apikey or with an unknown protocol version', async () => {
    const missing = await handshake('vsn=2.0.0')
    expect(missing).toEqual({ status: 401, body: { error: 'API key is missing' } })
    const forged = await handshake(`vsn=2.0.0&apikey=${stack.anonKey.slice(0, -3)}abc`)
    expect(forged).toEqual({ status: 401, body: { error: 'Failed to validate JWT signature' } })
    expect((await handshake(`vsn=3.0.0&apikey=${stack.anonKey}`)).status).toBe(400)
  })

  it('answers a message for a topic it has not joined with "unmatched topic"', async () => {
    const socket = await open()
    const ref = socket.push('realtime:nowhere', 'broadcast', { type: 'broadcast', event: 'x', payload: {} })
    expect((await socket.reply(ref)).payload).toEqual({
      status: 'error',
      response: { reason: 'unmatched topic' },
    })
  })

  it('closes on a frame that is not the protocol', async () => {
    const socket = await open()
    socket.ws.send('{"not": "an array"}')
    expect(await socket.closed()).toBe(1007)
  })
})

describe('joining', () => {
  it('replies with the postgres_changes ids in request order, then the system message', async () => {
    const user = await createUser('alice')
    const socket = await open()
    const changes = [
      { event: 'INSERT', schema: 'public', table: 'messages' },
      { event: '*', schema: 'public', table: 'conversations', filter: `user_id=eq.${user.id}` },
      { event: 'DELETE', schema: 'public', table: 'messages' },
    ]
    const ref = socket.nextRef()
    socket.push(
      'realtime:ordered',
      'phx_join',
      {
        config: {
          broadcast: { self: false, ack: false },
          presence: { key: '', enabled: false },
          postgres_changes: changes,
          private: false,
        },
        access_token: user.token,
      },
      ref,
      ref,
    )
    const reply = await socket.reply(ref)
    expect(reply.joinRef).toBe(ref)
    const ids = reply.payload.response.postgres_changes
    expect(ids.map(({ id: _, ...params }: Record<string, unknown>) => params)).toEqual(changes)
    expect(new Set(ids.map((c: { id: number }) => c.id)).size).toBe(3)
    const system = await socket.next((f) => text(f) && f.event === 'system', 'the system message')
    expect(system).toMatchObject({
      joinRef: ref,
      topic: 'realtime:ordered',
      payload: {
        extension: 'postgres_changes',
        status: 'ok',
        message: 'Subscribed to PostgreSQL',
        channel: 'ordered',
      },
    })
    expect(socket.frames.indexOf(reply)).toBeLessThan(socket.frames.indexOf(system))
  })

  it('refuses a join without a topic name, and closes the first join of a topic joined twice', async () => {
    const socket = await open()
    const bare = socket.push('realtime:', 'phx_join', { config: {} })
    expect((await socket.reply(bare)).payload.response).toEqual({
      reason: 'TopicNameRequired: You must provide a topic name',
    })

    const first = await socket.join('realtime:twice')
    const second = await socket.join('realtime:twice')
    await socket.next(
      (f) => text(f) && f.event === 'phx_close' && f.joinRef === first,
      'phx_close for the first join',
    )
    expect(second).not.toBe(first)
  })

  it('leaves with phx_leave', async () => {
    const socket = await open()
    const joinRef = await socket.join('realtime:leaving')
    const ref = socket.push('realtime:leaving', 'phx_leave', {}, joinRef)
    expect((await socket.reply(ref)).payload).toEqual({ status: 'ok', response: {} })
    await socket.next((f) => text(f) && f.event === 'phx_close' && f.joinRef === joinRef, 'phx_close')
  })
})

describe('broadcast frames', () => {
  it('relays a kind 3 push as a kind 4 frame and acknowledges it', async () => {
    const [sender, receiver] = [await open(), await open()]
    const joinRef = await sender.join('realtime:frames', { config: { broadcast: { ack: true } } })
    await receiver.join('realtime:frames')

    const ref = sender.nextRef()
    sender.ws.send(userBroadcastPush(joinRef, ref, 'realtime:frames', 'move', Buffer.from('{"x":1}')))
    expect((await sender.reply(ref)).payload).toEqual({ status: 'ok', response: {} })
    const frame = await receiver.next((f) => f.kind === 'binary', 'a binary broadcast')
    expect(readUserBroadcast((frame as { kind: 'binary'; bytes: Buffer }).bytes)).toMatchObject({
      kind: 4,
      topic: 'realtime:frames',
      event: 'move',
      json: true,
      meta: undefined,
    })
    expect(sender.frames.some((f) => f.kind === 'binary')).toBe(false)
  })

  it('speaks vsn 1.0.0 to a client that asks for it, in JSON objects', async () => {
    const [sender, old] = [await open('2.0.0'), await open('1.0.0')]
    const joinRef = await sender.join('realtime:mixed')
    await old.join('realtime:mixed')

    sender.ws.send(
      userBroadcastPush(joinRef, sender.nextRef(), 'realtime:mixed', 'hello', Buffer.from('{"v":1}')),
    )
    sender.ws.send(
      userBroadcastPush(joinRef, sender.nextRef(), 'realtime:mixed', 'bytes', Buffer.from([1, 2]), false),
    )
    sender.ws.send(
      userBroadcastPush(joinRef, sender.nextRef(), 'realtime:mixed', 'again', Buffer.from('{"v":2}')),
    )
    const received = await old.next((f) => text(f) && f.payload.event === 'again', 'the last broadcast')
    expect(received).toMatchObject({ joinRef: null, ref: null, event: 'broadcast' })
    // A binary payload cannot be said in JSON, so a vsn 1.0.0 client does not get it.
    expect(
      old.frames.filter((f) => text(f) && f.event === 'broadcast').map((f) => text(f) && f.payload),
    ).toEqual([
      { type: 'broadcast', event: 'hello', payload: { v: 1 } },
      { type: 'broadcast', event: 'again', payload: { v: 2 } },
    ])
  })
})
