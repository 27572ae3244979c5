import { performance } from 'node:perf_hooks'
import { SignJWT } from 'jose'
import type postgres from 'postgres'
import WebSocket from 'ws'
import type { Stack } from '../scripts/stack/index.ts'
import { type Measurement, measure } from './lib.ts'
import type { BenchContext } from './run.ts'

/**
 * The local Realtime server through the gateway: how long a message inserted into public.messages
 * takes to reach its owner's postgres_changes subscription while 1, 100 or 1,000 users are
 * subscribed (each change is checked against every subscriber's RLS, as hosted Realtime does; and,
 * as the chat client does, with a filter on the conversation), and how many broadcasts per second
 * reach 100 subscribers. Channels share sockets, up to 100 each (the per-socket limit), every one
 * joined with its own user's token.
 */
export async function benchRealtime({ stack, sql }: BenchContext): Promise<Measurement[]> {
  const rows: Measurement[] = []
  for (const subscribers of [1, 100, 1000]) rows.push(await insertToReceive(stack, sql, subscribers, false))
  rows.push(await insertToReceive(stack, sql, 1000, true))
  rows.push(...(await broadcastFanout(stack, 100, 2000)))
  return rows
}

const CHANNELS_PER_SOCKET = 100
const TIMEOUT_MS = 10_000

async function insertToReceive(stack: Stack, sql: postgres.Sql, count: number, filtered: boolean) {
  const users = await sql<Array<{ user_id: string; id: string }>>`
    with users as (
      insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
      select gen_random_uuid(), 'authenticated', 'authenticated', 'realtime-' || gen_random_uuid() || '@bench.test',
             '{}', '{}', now(), now()
      from generate_series(1, ${count})
      returning id
    )
    insert into public.conversations (user_id, title) select id, 'bench' from users returning user_id, id`
  const sockets: PhoenixSocket[] = []
  const waiting = new Map<string, () => void>()
  try {
    for (let i = 0; i < users.length; i += CHANNELS_PER_SOCKET) {
      const socket = await PhoenixSocket.open(stack)
      sockets.push(socket)
      socket.onMessage = (event, payload) => {
        const id = event === 'postgres_changes' ? (payload as ChangePayload).data.record?.id : undefined
        if (id) waiting.get(id)?.()
      }
      for (const [j, user] of users.slice(i, i + CHANNELS_PER_SOCKET).entries()) {
        const change = { event: 'INSERT', schema: 'public', table: 'messages' }
        await socket.join(`realtime:bench-${j}`, {
          config: {
            postgres_changes: [filtered ? { ...change, filter: `conversation_id=eq.${user.id}` } : change],
          },
          access_token: await accessToken(stack, user.user_id),
        })
      }
    }

    const name = `insert → receive, ${count} subscribed user${count > 1 ? 's' : ''}${filtered ? ', filtered' : ''}`
    return await measure(
      name,
      async (i) => {
        const { user_id: userId, id: conversationId } = users[i % users.length]
        const messageId = crypto.randomUUID()
        const received = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`${name}: message ${messageId} never arrived`)),
            TIMEOUT_MS,
          )
          waiting.set(messageId, () => {
            clearTimeout(timer)
            waiting.delete(messageId)
            resolve()
          })
        })
        await sql.begin(async (tx) => {
          await tx`select set_config('role', 'authenticated', true),
            set_config('request.jwt.claims', ${JSON.stringify({ sub: userId, role: 'authenticated' })}, true)`
          await tx`insert into public.messages (id, user_id, conversation_id, role, content)
            values (${messageId}, ${userId}, ${conversationId}, 'user', 'benchmark message')`
        })
        await received
      },
      { requests: 200, concurrency: 1, warmup: 20 },
    )
  } finally {
    for (const socket of sockets) socket.close()
    await sql`delete from auth.users where id = any(${users.map((u) => u.user_id)}::uuid[])`
  }
}

/**
 * Broadcasts to `subscribers` sockets on one topic: a burst of `messages` sent at once (throughput;
 * its percentiles are how long each waited until every subscriber had it), then one at a time
 * (the latency of a single fan-out).
 */
async function broadcastFanout(stack: Stack, subscribers: number, messages: number): Promise<Measurement[]> {
  const topic = 'realtime:bench-room'
  const receivers: PhoenixSocket[] = []
  const sender = await PhoenixSocket.open(stack)
  let sentAt: number[] = []
  let delivered: number[] = []
  let latencies: number[] = []
  let complete: () => void = () => {}
  const round = (count: number) => {
    sentAt = []
    delivered = new Array<number>(count).fill(0)
    latencies = []
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${latencies.length} of ${count} broadcasts arrived`)),
        60_000,
      )
      complete = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }
  try {
    for (let i = 0; i < subscribers; i++) {
      const socket = await PhoenixSocket.open(stack)
      receivers.push(socket)
      socket.onBroadcast = (event) => {
        const n = Number(event.slice(1))
        if (++delivered[n] === subscribers) {
          latencies.push(performance.now() - sentAt[n])
          if (latencies.length === delivered.length) complete()
        }
      }
      await socket.join(topic, { config: {} })
    }
    const joinRef = await sender.join(topic, { config: {} })
    const send = (n: number) => {
      sentAt[n] = performance.now()
      sender.broadcast(joinRef, topic, `m${n}`, { n, text: 'a broadcast of an ordinary size' })
    }

    const burst = round(messages)
    const started = performance.now()
    for (let n = 0; n < messages; n++) send(n)
    await burst
    const burstRow = summary(
      `broadcast burst to ${subscribers} subscribers (msgs/s; wait until all have it)`,
      latencies,
      subscribers,
      (performance.now() - started) / 1000,
    )

    const paced: number[] = []
    const pacedStart = performance.now()
    for (let n = 0; n < 200; n++) {
      const one = round(1)
      send(0)
      await one
      paced.push(latencies[0])
    }
    const pacedRow = summary(
      `broadcast one at a time to ${subscribers} subscribers`,
      paced,
      1,
      (performance.now() - pacedStart) / 1000,
    )
    return [burstRow, pacedRow]
  } finally {
    sender.close()
    for (const socket of receivers) socket.close()
  }
}

function summary(name: string, latencies: number[], concurrency: number, seconds: number): Measurement {
  const sorted = [...latencies].sort((a, b) => a - b)
  return {
    name,
    requests: sorted.length,
    concurrency,
    rps: sorted.length / seconds,
    p50: sorted[Math.floor(sorted.length / 2)],
    p99: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))],
  }
}

interface ChangePayload {
  data: { record?: { id?: string } }
}

async function accessToken(stack: Stack, sub: string): Promise<string> {
  return new SignJWT({ aud: 'authenticated', role: 'authenticated' })
    .setProtectedHeader({ alg: 'ES256', kid: stack.keys.signingKey.kid })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(stack.keys.signingKey.privateKey)
}

/** Just enough of a Phoenix vsn 2.0.0 client: JSON joins, binary (kind 3) broadcasts out, kind 4 in. */
class PhoenixSocket {
  private ref = 0
  private readonly replies = new Map<string, (payload: { status: string; response: unknown }) => void>()
  onMessage: (event: string, payload: unknown) => void = () => {}
  onBroadcast: (event: string) => void = () => {}

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const bytes = data as Buffer
      if (isBinary) {
        // kind 4: kind, topic length, event length, metadata length, encoding, topic, event, …
        this.onBroadcast(bytes.subarray(5 + bytes[1], 5 + bytes[1] + bytes[2]).toString())
        return
      }
      const [, ref, , event, payload] = JSON.parse(bytes.toString())
      if (event === 'phx_reply' && ref) this.replies.get(ref)?.(payload)
      else this.onMessage(event, payload)
    })
  }

  static async open(stack: Stack): Promise<PhoenixSocket> {
    const base = stack.apiUrl.replace(/^http/, 'ws')
    const ws = new WebSocket(`${base}/realtime/v1/websocket?apikey=${stack.keys.anonKey}&vsn=2.0.0`)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return new PhoenixSocket(ws)
  }

  /** Joins and returns the join ref. */
  async join(topic: string, payload: Record<string, unknown>): Promise<string> {
    const ref = String(++this.ref)
    const reply = new Promise<{ status: string; response: unknown }>((resolve) =>
      this.replies.set(ref, resolve),
    )
    this.ws.send(JSON.stringify([ref, ref, topic, 'phx_join', payload]))
    const { status, response } = await reply
    if (status !== 'ok') throw new Error(`join ${topic} failed: ${JSON.stringify(response)}`)
    return ref
  }

  broadcast(joinRef: string, topic: string, event: string, payload: unknown): void {
    const fields = [joinRef, String(++this.ref), topic, event, ''].map((s) => Buffer.from(s))
    const body = Buffer.from(JSON.stringify(payload))
    this.ws.send(Buffer.concat([Buffer.from([3, ...fields.map((f) => f.length), 1]), ...fields, body]))
  }

  close(): void {
    this.ws.terminate()
  }
}
