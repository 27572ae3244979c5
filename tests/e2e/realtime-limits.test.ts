import type { SupabaseClient } from '@supabase/supabase-js'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Inbox, joinOutcome, realtimeClient, subscribed } from '../helpers/realtime-client.ts'
import { type ServedRealtime, serveRealtime } from '../helpers/realtime-server.ts'
import { RawSocket } from '../helpers/realtime-socket.ts'
import { adminSql, createUser, stack } from '../helpers/stack.ts'

// Bounded resources, on a server of its own with small limits: channels per socket, sockets per
// user, payload size, slow consumers and idle sockets.

const db = adminSql()
let realtime: ServedRealtime
const clients: SupabaseClient[] = []
const sockets: RawSocket[] = []

beforeAll(async () => {
  realtime = await serveRealtime({
    maxChannelsPerConnection: 2,
    maxConnectionsPerUser: 1,
    maxPayloadBytes: 64 * 1024,
    maxBufferedBytes: 256 * 1024,
  })
})
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close()
  await Promise.all(clients.splice(0).map((client) => client.removeAllChannels()))
})
afterAll(async () => {
  await realtime.close()
  await db.end()
})

async function client(token?: string): Promise<SupabaseClient> {
  const c = await realtimeClient(realtime.url, token)
  clients.push(c)
  return c
}

describe('limits', () => {
  it('refuses a channel past the per-connection limit', async () => {
    const c = await client()
    await subscribed(c.channel('one'))
    await subscribed(c.channel('two'))
    const third = await joinOutcome(c.channel('three'))
    expect(third.status).toBe('CHANNEL_ERROR')
    expect(third.error?.message).toBe('ChannelRateLimitReached: Too many channels')
  })

  it("refuses a user's connection past the per-user limit, and not another user's", async () => {
    const alice = await createUser('alice')
    const bob = await createUser('bob')
    await subscribed((await client(alice.token)).channel('first'))
    const second = await joinOutcome((await client(alice.token)).channel('first'))
    expect(second.status).toBe('CHANNEL_ERROR')
    expect(second.error?.message).toBe('ConnectionRateLimitReached: Too many connected users')
    await subscribed((await client(bob.token)).channel('first'))
  })

  it('refuses a broadcast over the payload limit, and tells a sender that asked for acks', async () => {
    const [one, two] = [await client(), await client()]
    const sender = one.channel('big', { config: { broadcast: { ack: true } } })
    const inbox = new Inbox<{ event: string }>()
    await subscribed(sender)
    await subscribed(two.channel('big').on('broadcast', { event: '*' }, inbox.push))

    expect(
      await sender.send({ type: 'broadcast', event: 'huge', payload: { text: 'x'.repeat(65 * 1024) } }),
    ).toBe('error')
    expect(await sender.send({ type: 'broadcast', event: 'small', payload: { text: 'x' } })).toBe('ok')
    await inbox.next((m) => m.event === 'small')
    expect(inbox.items.map((m) => m.event)).toEqual(['small'])

    const rest = await fetch(`${realtime.url}/realtime/v1/api/broadcast/big/events/huge`, {
      method: 'POST',
      headers: {
        apikey: stack.anonKey,
        authorization: `Bearer ${stack.serviceRoleKey}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ text: 'x'.repeat(65 * 1024) }),
    })
    expect(rest.status).toBe(413)
  })

  it('closes a channel that tracks an oversized presence', async () => {
    const c = await client()
    const system = new Inbox<{ status: string; message: string }>()
    const channel = c.channel('crowded').on('system', {}, system.push)
    const statuses = await subscribed(channel)
    // The server closes the channel instead of answering, so the push is not awaited.
    void channel.track({ bio: 'x'.repeat(65 * 1024) })
    expect(await system.next((m) => m.status === 'error')).toMatchObject({
      message: 'Track message size exceeded',
    })
    await statuses.next('CLOSED')
  })

  it('drops a consumer that stops reading, without holding up the others', async () => {
    const slow = await RawSocket.open(realtime.url)
    sockets.push(slow)
    await slow.join('realtime:firehose')
    // Stop reading: the server's unsent frames for this socket pile up.
    ;(slow.ws as unknown as { _socket: { pause(): void } })._socket.pause()

    const fast = new Inbox<{ event: string }>()
    await subscribed((await client()).channel('firehose').on('broadcast', { event: '*' }, fast.push))
    const sender = (await client()).channel('firehose', { config: { broadcast: { ack: true } } })
    await subscribed(sender)

    const chunk = new Uint8Array(48 * 1024).buffer
    let sent = 0
    while (!realtime.logs.some((line) => line.includes('slow consumer'))) {
      expect(await sender.send({ type: 'broadcast', event: `n${sent}`, payload: chunk })).toBe('ok')
      sent++
      if (sent > 2000) throw new Error('the slow consumer was never dropped')
    }
    expect(await sender.send({ type: 'broadcast', event: 'done', payload: {} })).toBe('ok')
    await fast.next((m) => m.event === 'done')
    expect(fast.items.length).toBe(sent + 1)

    ;(slow.ws as unknown as { _socket: { resume(): void } })._socket.resume()
    await slow.closed()
  })

  it('closes a socket that goes quiet', async () => {
    const strict = await serveRealtime({ idleTimeoutMs: 300 })
    try {
      const quiet = await RawSocket.open(strict.url)
      sockets.push(quiet)
      await quiet.closed()
    } finally {
      await strict.close()
    }
  })
})
