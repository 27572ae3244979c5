import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

// What the fake OpenAI and Anthropic servers share: a loopback HTTP server that records every request,
// answers from a per-test script (a queue of replies, then a function of the request), and knows
// which answers the client walked away from.

export interface FakeToolCall {
  id?: string
  name: string
  args: Record<string, unknown>
}

/** A model's answer: text (one string, split into word deltas, or the deltas themselves) and tool calls. */
export interface FakeAnswer {
  text?: string | string[]
  toolCalls?: FakeToolCall[]
  /** Token counts reported; by default a count of the request's words and of the answer's deltas. */
  usage?: { input: number; output: number }
  /** Why the answer ended, in the provider's words; by default what the answer implies. */
  stopReason?: string
  /** Pause between streamed events. */
  delayMs?: number
  /** Stream this many events, then say nothing more (the connection stays open). */
  stallAfter?: number
  /** Stream this many events, then send the provider's in-stream error event. */
  failAfter?: { events: number; status: number; message?: string }
}

/** An HTTP error in the provider's own shape. */
export interface FakeError {
  error: { status: number; message?: string; type?: string; code?: string | null }
  headers?: Record<string, string>
}

/** Accept the request and never answer (until the client gives up). */
export interface FakeHang {
  hang: true
}

export type FakeReply = FakeAnswer | FakeError | FakeHang

export interface RecordedRequest<Body> {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: Body
  /** The client closed the connection before the answer was complete. */
  abandoned: boolean
}

export type ReplyFunction<Body> = (request: RecordedRequest<Body>) => FakeReply | Promise<FakeReply>

/** How a provider's protocol turns a scripted reply into bytes. */
export interface Protocol<Body> {
  name: string
  /** The path prefix its clients use as base URL (`/v1` for OpenAI, none for Anthropic). */
  basePath: string
  /** The one path it serves, relative to the base. */
  path: string
  /** The key a request carries, or undefined if none. */
  key(headers: IncomingHttpHeaders): string | undefined
  /** The error body and its headers. */
  error(reply: FakeError): { body: unknown; headers: Record<string, string> }
  streams(body: Body): boolean
  /** The whole answer as one JSON body. */
  answer(reply: FakeAnswer, body: Body): unknown
  /** The answer as server-sent events, each `{ event?, data }`. */
  events(reply: FakeAnswer, body: Body): Array<{ event?: string; data: unknown }>
  /** The in-stream error event. */
  streamError(status: number, message: string): { event?: string; data: unknown }
  /** What ends a stream after its last event (`data: [DONE]` for OpenAI). */
  trailer?: string
}

export interface FakeProvider<Body> {
  /** The base URL for the SDK (`OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL`). */
  url: string
  /** The key it accepts (any other gets the provider's 401); null accepts any, as Ollama does. */
  apiKey: string | null
  requests: Array<RecordedRequest<Body>>
  /** Queue replies, used one per request in order. */
  reply(...replies: FakeReply[]): void
  /** Answer requests the queue does not cover. */
  respond(fn: ReplyFunction<Body>): void
  /** Resolves when `count` requests have been received. */
  received(count: number): Promise<void>
  close(): Promise<void>
}

/** Text deltas: the given pieces, or the text split after each run of spaces. */
export const pieces = (text: string | string[] | undefined): string[] =>
  Array.isArray(text) ? text : text ? (text.match(/\S+\s*|\s+/g) ?? []) : []

/** Tool-call arguments as JSON in a few deltas, the way providers cut them. */
export function argumentPieces(args: Record<string, unknown>): string[] {
  const json = JSON.stringify(args)
  const size = Math.max(1, Math.ceil(json.length / 3))
  const out: string[] = []
  for (let i = 0; i < json.length; i += size) out.push(json.slice(i, i + size))
  return out
}

/** A rough token count for the default usage: the words of the request's JSON. */
export const wordCount = (value: unknown): number =>
  JSON.stringify(value ?? '')
    .split(/\W+/)
    .filter(Boolean).length

let counter = 0
export const fakeId = (prefix: string) => `${prefix}${Date.now().toString(36)}${(++counter).toString(36)}`

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function startFakeProvider<Body>(
  protocol: Protocol<Body>,
  options: { apiKey?: string | null } = {},
): Promise<FakeProvider<Body>> {
  const apiKey = options.apiKey === undefined ? `${protocol.name}-test-key` : options.apiKey
  const queue: FakeReply[] = []
  const requests: Array<RecordedRequest<Body>> = []
  const waiters: Array<{ count: number; resolve: () => void }> = []
  let fallback: ReplyFunction<Body> | undefined

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(JSON.stringify(body))
  }

  async function answer(record: RecordedRequest<Body>, res: ServerResponse): Promise<void> {
    const reply = queue.shift() ?? (fallback ? await fallback(record) : undefined)
    if (!reply) {
      const { body, headers } = protocol.error({
        error: { status: 400, message: `${protocol.name}: no reply scripted for this request` },
      })
      return send(res, 400, body, headers)
    }
    if ('hang' in reply) return // the client's timeout or abort ends it
    if ('error' in reply) {
      const { body, headers } = protocol.error(reply)
      return send(res, reply.error.status, body, { ...headers, ...reply.headers })
    }
    if (!protocol.streams(record.body)) {
      if (reply.delayMs) await sleep(reply.delayMs)
      return send(res, 200, protocol.answer(reply, record.body))
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    })
    res.flushHeaders()
    const events = protocol.events(reply, record.body)
    for (const [index, { event, data }] of events.entries()) {
      if (record.abandoned) return
      if (reply.stallAfter !== undefined && index >= reply.stallAfter) return
      if (reply.failAfter && index >= reply.failAfter.events) {
        const failure = protocol.streamError(reply.failAfter.status, reply.failAfter.message ?? 'Overloaded')
        res.write(
          `${failure.event ? `event: ${failure.event}\n` : ''}data: ${JSON.stringify(failure.data)}\n\n`,
        )
        return void res.end()
      }
      if (reply.delayMs && index > 0) await sleep(reply.delayMs)
      res.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`)
    }
    if (protocol.trailer) res.write(protocol.trailer)
    res.end()
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      let body: Body
      try {
        body = (text ? JSON.parse(text) : undefined) as Body
      } catch {
        const { body, headers } = protocol.error({ error: { status: 400, message: 'The body is not JSON' } })
        return send(res, 400, body, headers)
      }
      const path = (req.url ?? '/').split('?')[0]
      const record: RecordedRequest<Body> = {
        method: req.method ?? 'GET',
        path,
        headers: req.headers,
        body,
        abandoned: false,
      }
      res.on('close', () => {
        if (!res.writableFinished) record.abandoned = true
      })
      requests.push(record)
      for (const waiter of waiters.filter((w) => requests.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
      if (req.method !== 'POST' || path !== `${protocol.basePath}${protocol.path}`) {
        const { body, headers } = protocol.error({
          error: { status: 404, message: `No route ${req.method} ${path}` },
        })
        return send(res, 404, body, headers)
      }
      if (apiKey !== null && protocol.key(req.headers) !== apiKey) {
        const { body, headers } = protocol.error({ error: { status: 401 } })
        return send(res, 401, body, headers)
      }
      answer(record, res).catch((error: unknown) => {
        if (!res.headersSent) send(res, 500, { error: { message: String(error) } })
        else res.destroy()
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}${protocol.basePath}`,
    apiKey,
    requests,
    reply: (...replies) => void queue.push(...replies),
    respond: (fn) => {
      fallback = fn
    },
    received: (count) =>
      requests.length >= count
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ count, resolve })),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
