import { readBodyWithin } from '../body.ts'
import { type Hub, topicKey } from './hub.ts'
import { type Claims, TokenError } from './tokens.ts'

/**
 * Hosted Realtime's REST broadcast API: `POST /api/broadcast` (a batch, as realtime-js's send()
 * falls back to) and `POST /api/broadcast/{topic}/events/{event}` (httpSend), both answering 202.
 * Private messages need write access to the topic by the caller's RLS policies.
 */
export async function handleRest(hub: Hub, request: Request): Promise<Response> {
  if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: CORS })
  const path = new URL(request.url).pathname.replace(/^\/realtime\/v1/, '').replace(/\/+$/, '')
  const single = /^\/api\/broadcast\/([^/]+)\/events\/([^/]+)$/.exec(path)
  if (path !== '/api/broadcast' && !single) return json(404, { message: 'not found' })
  if (request.method !== 'POST') return json(405, { message: 'method not allowed' })
  let target: { topic: string; event: string } | undefined
  if (single) {
    const [topic, event] = [decodeSegment(single[1]), decodeSegment(single[2])]
    // As Plug's router does, a path that does not percent-decode is the client's error.
    if (topic === undefined || event === undefined) {
      return json(400, { message: 'The topic or event in the path is not valid percent-encoded UTF-8' })
    }
    target = { topic, event }
  }

  let claims: Claims
  try {
    claims = await hub.verify(bearer(request) ?? '')
  } catch (error) {
    if (!(error instanceof TokenError)) throw error
    return json(401, { message: 'Unauthorized' })
  }
  const limit = hub.limits.maxPayloadBytes
  if (target) {
    const body = await readBodyWithin(request, limit)
    if (!body) return json(413, { message: 'Payload size exceeds tenant limit' })
    return broadcastOne(hub, request, claims, target.topic, target.event, body)
  }
  // A batch may carry many messages, each within the payload limit.
  const body = await readBodyWithin(request, Math.max(1024 * 1024, 4 * limit))
  if (!body) return json(413, { message: 'Payload size exceeds tenant limit' })
  return broadcastBatch(hub, claims, body)
}

async function broadcastOne(
  hub: Hub,
  request: Request,
  claims: Claims,
  topic: string,
  event: string,
  body: Uint8Array,
): Promise<Response> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase()
  if (type !== 'application/json' && type !== 'application/octet-stream') {
    return json(415, {
      message: 'Unsupported content type: send application/json or application/octet-stream',
    })
  }
  const encoding = type === 'application/json' ? 'json' : 'binary'
  if (encoding === 'json' && !isJson(body)) return json(400, { message: 'The body is not valid JSON' })
  const isPrivate = ['true', '1'].includes(new URL(request.url).searchParams.get('private') ?? '')
  if (isPrivate && !(await mayBroadcast(hub, topic, claims))) return json(403, { message: 'Unauthorized' })
  hub.broadcast(topicKey(isPrivate, topic), { form: 'user', event, encoding, payload: body })
  return new Response(null, { status: 202, headers: CORS })
}

interface BatchMessage {
  topic: string
  event: string
  payload: Record<string, unknown>
  private: boolean
  id?: string
}

async function broadcastBatch(hub: Hub, claims: Claims, body: Uint8Array): Promise<Response> {
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder().decode(body))
  } catch {
    return json(400, { message: 'The body is not valid JSON' })
  }
  const raw = (parsed as { messages?: unknown })?.messages
  if (!Array.isArray(raw) || raw.length === 0) return json(422, { errors: { messages: ["can't be blank"] } })
  const messages: BatchMessage[] = []
  const errors: Array<Record<string, string[]>> = []
  for (const m of raw as Array<Record<string, unknown>>) {
    const problems: Record<string, string[]> = {}
    if (typeof m?.topic !== 'string' || !m.topic) problems.topic = ["can't be blank"]
    if (typeof m?.event !== 'string' || !m.event) problems.event = ["can't be blank"]
    if (!m?.payload || typeof m.payload !== 'object' || Array.isArray(m.payload))
      problems.payload = ["can't be blank"]
    else if (Buffer.byteLength(JSON.stringify(m.payload)) > hub.limits.maxPayloadBytes) {
      problems.payload = ['Payload size exceeds tenant limit']
    }
    if (m?.private !== undefined && m.private !== null && typeof m.private !== 'boolean') {
      problems.private = ['is invalid']
    }
    errors.push(problems)
    if (Object.keys(problems).length === 0) {
      messages.push({
        topic: m.topic as string,
        event: m.event as string,
        payload: m.payload as Record<string, unknown>,
        private: m.private === true,
        id: typeof m.id === 'string' ? m.id : undefined,
      })
    }
  }
  if (messages.length !== raw.length) return json(422, { errors: { messages: errors } })

  // Private messages the caller may not write are dropped without failing the batch, as hosted.
  const allowed = new Map<string, boolean>()
  for (const message of messages) {
    if (message.private && !allowed.has(message.topic)) {
      allowed.set(message.topic, await mayBroadcast(hub, message.topic, claims))
    }
    if (message.private && !allowed.get(message.topic)) continue
    hub.broadcast(topicKey(message.private, message.topic), {
      form: 'json',
      event: message.event,
      encoding: 'json',
      payload: Buffer.from(JSON.stringify(message.payload)),
      meta: message.id ? { id: message.id } : undefined,
    })
  }
  return new Response(null, { status: 202, headers: CORS })
}

async function mayBroadcast(hub: Hub, topic: string, claims: Claims): Promise<boolean> {
  try {
    return (await hub.store.writable(topic, claims, ['broadcast'])).has('broadcast')
  } catch (error) {
    hub.log(`write policy check failed on ${topic}: ${(error as Error).message}`)
    return false
  }
}

function bearer(request: Request): string | undefined {
  const header = request.headers.get('authorization')
  const match = header ? /^bearer\s+(.+)$/i.exec(header.trim()) : null
  return match?.[1] ?? request.headers.get('apikey') ?? undefined
}

/** A path segment percent-decoded, or undefined when it is not valid percent-encoded UTF-8. */
function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

function isJson(body: Uint8Array): boolean {
  try {
    JSON.parse(new TextDecoder().decode(body))
    return true
  } catch {
    return false
  }
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization, apikey, content-type, x-client-info',
  'access-control-allow-methods': 'POST, OPTIONS',
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...CORS },
  })
}
