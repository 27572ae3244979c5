import { randomUUID } from 'node:crypto'
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request as httpRequest,
  type OutgoingHttpHeaders,
  STATUS_CODES,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { Duplex } from 'node:stream'
import { getRequestListener } from '@hono/node-server'
import { forwardClientAddress } from './client-address.ts'
import type { FunctionWorker } from './functions/runner.ts'
import { createJwtVerifier } from './jwt.ts'
import type { StackKeys } from './keys.ts'

/** A service mounted under the gateway, spoken to with web-standard requests. */
export interface FetchService {
  fetch(request: Request): Response | Promise<Response>
}

export interface UpgradeService extends FetchService {
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void
}

/** How long and how much the gateway waits and holds; see docs/adr/0011-gateway-upstream-connections.md. */
export interface GatewayLimits {
  /** A kept-alive socket to a worker is closed after this long unused (Deno keeps them far longer). */
  upstreamIdleMs: number
  /** A function that sends nothing for this long is answered 504, as hosted Supabase does at 150 s. */
  responseIdleMs: number
  /** A request body that stalls this long between bytes is answered 408. */
  bodyIdleMs: number
  /** A request body must have arrived whole within this long, or it is answered 408. */
  bodyTotalMs: number
  /** Bodies up to this size are read whole before the function sees them (larger ones stream). */
  bufferedBodyBytes: number
  /** Bytes of request bodies the gateway holds at once, over all requests; past it, 503. */
  bufferedTotalBytes: number
  /** Requests with more header lines are answered 431 (Deno refuses 128 and more with an empty 400). */
  maxHeaders: number
  /** Requests whose head is larger are answered 431 (Node's `maxHeaderSize`). */
  maxHeaderBytes: number
  /** Requests in flight to one function at once (its socket pool). */
  socketsPerFunction: number
  /** Requests in flight to one function from one client address; the rest wait in a queue. */
  socketsPerClient: number
  /** A request waits this long for a free slot before it is answered 503. */
  queueMs: number
}

export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = {
  upstreamIdleMs: 4_000,
  responseIdleMs: 150_000,
  bodyIdleMs: 10_000,
  bodyTotalMs: 60_000,
  bufferedBodyBytes: 2 * 1024 * 1024,
  bufferedTotalBytes: 256 * 1024 * 1024,
  maxHeaders: 100,
  maxHeaderBytes: 16 * 1024,
  socketsPerFunction: 64,
  socketsPerClient: 32,
  queueMs: 10_000,
}

export interface GatewayOptions {
  host: string
  port: number
  keys: StackKeys
  functions: Map<string, FunctionWorker>
  auth?: FetchService
  realtime?: UpgradeService
  limits?: Partial<GatewayLimits>
  log?: (name: string, line: string) => void
}

/**
 * The gateway's own errors, in the API's error envelope. These codes exist only here: the
 * functions' codes (shared/http/errors.ts) are the API contract, these say the gateway could not
 * hand the request to a function (docs/adr/0010-gateway-errors.md).
 */
export type GatewayErrorCode =
  | 'bad_request'
  | 'request_timeout'
  | 'request_headers_too_large'
  | 'bad_gateway'
  | 'function_unavailable'
  | 'gateway_timeout'

const gatewayErrorStatus: Record<GatewayErrorCode, number> = {
  bad_request: 400,
  request_timeout: 408,
  request_headers_too_large: 431,
  bad_gateway: 502,
  function_unavailable: 503,
  gateway_timeout: 504,
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The caller's request id when it looks like one (as the functions accept it), else a new one. */
function requestIdOf(headers: IncomingHttpHeaders): string {
  const incoming = headers['x-request-id']
  return typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID()
}

function errorBody(code: GatewayErrorCode, message: string, requestId: string): string {
  return JSON.stringify({ error: { code, message, request_id: requestId } })
}

function sendError(
  res: ServerResponse,
  code: GatewayErrorCode,
  message: string,
  requestId: string,
  options: { close?: boolean } = {},
): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const text = errorBody(code, message, requestId)
  const headers: OutgoingHttpHeaders = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-request-id': requestId,
  }
  // The body was left unread: the connection cannot carry another request.
  if (options.close) headers.connection = 'close'
  res.writeHead(gatewayErrorStatus[code], headers)
  res.end(text)
}

/** An error answer written straight to a socket that has no response object (a bad request head, an upgrade). */
function writeRawError(socket: Duplex, code: GatewayErrorCode, message: string): void {
  const text = errorBody(code, message, randomUUID())
  const status = gatewayErrorStatus[code]
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  )
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function notFound(): Response {
  return Response.json({ message: 'no Route matched with those values' }, { status: 404 })
}

/** Headers that describe one connection, not the message: never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
])

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const named = String(headers.connection ?? '')
    .toLowerCase()
    .split(',')
    .map((name) => name.trim())
  const out: IncomingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && !named.includes(name)) out[name] = value
  }
  return out
}

/** A refused connection is tried again this often, this far apart (a worker restarting under --watch). */
const REFUSED_RETRIES = 10
const REFUSED_RETRY_MS = 100

class GatewayError extends Error {
  constructor(
    readonly code: GatewayErrorCode,
    message: string,
  ) {
    super(message)
  }
}

/**
 * Whether the client's connection closed before its answer was sent, and who to tell when it does:
 * what an AbortSignal says, without one. Node builds an AbortController as an EventTarget, which
 * cost the gateway about 20 µs of CPU per request, more than anything else of its own work
 * (docs/adr/0037-request-path-waits.md).
 */
class ClientGone {
  aborted = false
  private readonly listeners = new Set<() => void>()

  /** Calls `listener` once, when the client goes (at once if it has gone). */
  on(listener: () => void): void {
    if (this.aborted) listener()
    else this.listeners.add(listener)
  }

  off(listener: () => void): void {
    this.listeners.delete(listener)
  }

  abort(): void {
    if (this.aborted) return
    this.aborted = true
    for (const listener of this.listeners) listener()
    this.listeners.clear()
  }
}

/**
 * Requests in flight to one function: at most `total`, at most `perClient` from one client
 * address, the rest queued in arrival order for up to `queueMs`. One client cannot take every
 * socket of a function, and nobody waits forever.
 */
class Slots {
  private inFlight = 0
  private readonly byClient = new Map<string, number>()
  private readonly queue: Array<{ client: string; grant: () => void }> = []

  constructor(
    private readonly total: number,
    private readonly perClient: number,
  ) {}

  /** Resolves with the function that gives the slot back; rejects when the client goes first. */
  acquire(client: string, queueMs: number, gone: ClientGone): Promise<() => void> {
    // Whoever waits is held by a full pool or by its own share: neither keeps this client out.
    if (this.free(client)) return Promise.resolve(this.take(client))
    return new Promise((resolve, reject) => {
      const entry = {
        client,
        grant: () => {
          cleanup()
          resolve(this.take(client))
        },
      }
      const drop = (error: Error) => {
        cleanup()
        const at = this.queue.indexOf(entry)
        if (at >= 0) this.queue.splice(at, 1)
        reject(error)
      }
      const timer = setTimeout(
        () =>
          drop(
            new GatewayError(
              'function_unavailable',
              `is busy: no connection to it came free within ${queueMs} ms`,
            ),
          ),
        queueMs,
      )
      const onAbort = () => drop(new Error('the client went away while waiting'))
      const cleanup = () => {
        clearTimeout(timer)
        gone.off(onAbort)
      }
      this.queue.push(entry)
      gone.on(onAbort)
    })
  }

  private free(client: string): boolean {
    return this.inFlight < this.total && (this.byClient.get(client) ?? 0) < this.perClient
  }

  private take(client: string): () => void {
    this.inFlight++
    this.byClient.set(client, (this.byClient.get(client) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      this.inFlight--
      const left = (this.byClient.get(client) ?? 1) - 1
      if (left) this.byClient.set(client, left)
      else this.byClient.delete(client)
      this.pump()
    }
  }

  private pump(): void {
    for (let i = 0; i < this.queue.length && this.inFlight < this.total; ) {
      const entry = this.queue[i]
      if (this.free(entry.client)) {
        this.queue.splice(i, 1)
        entry.grant()
      } else i++
    }
  }
}

interface ReadBody {
  /** What arrived before the body ended or the buffer filled. */
  chunks: Buffer[]
  /** Whether `chunks` is the whole body; if not, the rest is still to be read from the request. */
  whole: boolean
}

/**
 * The one local origin, like Supabase's API gateway: /functions/v1/<name> to the function's Deno
 * worker, /auth/v1 to the auth service and /realtime/v1 (HTTP and WebSocket) to Realtime.
 */
export function createGateway(options: GatewayOptions): Server {
  const { keys } = options
  const verifyJwt = createJwtVerifier(keys)
  const limits: GatewayLimits = { ...DEFAULT_GATEWAY_LIMITS, ...options.limits }
  const log = options.log ?? ((name: string, line: string) => console.error(`[${name}] ${line}`))
  // Services are looked up per request: the stack mounts them once the gateway's port (and so
  // their public URL) is known.
  const auth = getRequestListener((request) => options.auth?.fetch(request) ?? notFound())
  const realtime = getRequestListener((request) => options.realtime?.fetch(request) ?? notFound())
  // An idle socket is dropped by the gateway before the worker could drop it, so a request is
  // never written onto a connection the worker is closing (docs/adr/0011).
  const agent = new Agent({
    keepAlive: true,
    maxSockets: limits.socketsPerFunction,
    timeout: limits.upstreamIdleMs,
  })
  const slots = new Map<string, Slots>()
  let bufferedBytes = 0

  /** The edge gateway swaps an opaque `sb_…` key in Authorization for the JWT it stands for. */
  function bearer(req: IncomingMessage): string | undefined {
    const header = req.headers.authorization
    const token = header?.toLowerCase().startsWith('bearer ') ? header.slice(7).trim() : undefined
    if (token?.startsWith('sb_publishable_')) return keys.anonKey
    if (token?.startsWith('sb_secret_')) return keys.serviceRoleKey
    return token
  }

  async function validJwt(token: string | undefined): Promise<boolean> {
    if (!token) return false
    return verifyJwt(token).then(
      () => true,
      () => false,
    )
  }

  /**
   * Reads the request body into memory up to `bufferedBodyBytes`, within the body time limits,
   * before any function is involved: a client that stalls or drops mid-upload costs the function
   * nothing. Rejects with a GatewayError (timeout, memory) or a plain Error (the client went away).
   */
  function readBody(req: IncomingMessage): Promise<ReadBody> {
    const chunks: Buffer[] = []
    const noBody =
      req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined
    if (noBody || req.readableEnded) return Promise.resolve({ chunks, whole: true })
    return new Promise((resolve, reject) => {
      let size = 0
      let settled = false
      const finish = (error?: Error, whole = true) => {
        if (settled) return
        settled = true
        clearTimeout(idle)
        clearTimeout(total)
        req.off('data', onData)
        req.off('end', onEnd)
        req.off('aborted', onGone)
        req.off('close', onClose)
        req.off('error', onGone)
        if (error) {
          bufferedBytes -= size
          reject(error)
        } else {
          req.pause()
          resolve({ chunks, whole })
        }
      }
      const timeout = (what: string) =>
        finish(new GatewayError('request_timeout', `The request body ${what}`))
      let idle = setTimeout(() => timeout(`stalled for ${limits.bodyIdleMs} ms`), limits.bodyIdleMs)
      const total = setTimeout(
        () => timeout(`did not arrive within ${limits.bodyTotalMs} ms`),
        limits.bodyTotalMs,
      )
      const onData = (chunk: Buffer) => {
        chunks.push(chunk)
        size += chunk.length
        bufferedBytes += chunk.length
        clearTimeout(idle)
        idle = setTimeout(() => timeout(`stalled for ${limits.bodyIdleMs} ms`), limits.bodyIdleMs)
        if (bufferedBytes > limits.bufferedTotalBytes) {
          finish(new GatewayError('function_unavailable', 'The gateway holds too many request bodies; retry'))
        } else if (size >= limits.bufferedBodyBytes) {
          // A large body streams on to the function, which enforces its own limit.
          bufferedBytes -= size
          size = 0
          finish(undefined, false)
        }
      }
      const onEnd = () => {
        bufferedBytes -= size
        size = 0
        finish()
      }
      const onGone = () => finish(new Error('the client went away during the request body'))
      const onClose = () => {
        if (!req.complete) onGone()
      }
      req.on('data', onData)
      req.on('end', onEnd)
      req.on('aborted', onGone)
      req.on('close', onClose)
      req.on('error', onGone)
    })
  }

  async function toFunction(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const requestId = requestIdOf(req.headers)
    const name = path.split('/')[1]?.split('?')[0] ?? ''
    const worker = options.functions.get(name)
    if (!worker) {
      sendJson(res, 404, { code: 'NOT_FOUND', message: 'Requested function was not found' })
      return
    }
    const token = bearer(req)
    if (worker.spec.verifyJwt && req.method !== 'OPTIONS' && !(await validJwt(token))) {
      sendJson(res, 401, { msg: 'Invalid JWT' })
      return
    }
    const what = `${requestId} ${req.method} /functions/v1${path.split('?')[0]}`
    const client = req.socket.remoteAddress ?? '127.0.0.1'
    // Aborted when the client's connection closes before its answer was sent: whatever the
    // gateway is doing for it (waiting, reading, talking to the function) stops.
    const gone = new ClientGone()
    res.on('close', () => {
      if (!res.writableFinished) gone.abort()
    })

    let body: ReadBody
    try {
      body = await readBody(req)
    } catch (error) {
      if (error instanceof GatewayError) {
        log('gateway', `${what}: ${error.message}`)
        sendError(res, error.code, error.message, requestId, { close: true })
      } else res.destroy()
      return
    }
    const heldBytes = body.whole ? body.chunks.reduce((sum, chunk) => sum + chunk.length, 0) : 0
    bufferedBytes += heldBytes
    let release: (() => void) | undefined
    try {
      const port = await worker.whenReady().catch((error: Error) => {
        throw new GatewayError('function_unavailable', `failed to start: ${error.message}`)
      })
      const pool = slots.get(name) ?? new Slots(limits.socketsPerFunction, limits.socketsPerClient)
      slots.set(name, pool)
      release = await pool.acquire(client, limits.queueMs, gone)
      await forward(req, res, {
        port,
        whenReady: () => worker.whenReady(),
        path,
        token,
        requestId,
        what,
        body,
        gone,
      })
    } catch (error) {
      if (gone.aborted) return
      const known = error instanceof GatewayError
      log('gateway', `${what}: ${known ? error.message : `no answer: ${(error as Error).message}`}`)
      sendError(
        res,
        known ? error.code : 'bad_gateway',
        `Function ${name} ${known ? error.message : 'did not answer'}`,
        requestId,
        { close: !body.whole },
      )
    } finally {
      bufferedBytes -= heldBytes
      body.chunks = []
      release?.()
    }
  }

  interface Forward {
    port: number
    /** The worker's port again, after it refused a connection (it may have been restarted). */
    whenReady: () => Promise<number>
    path: string
    token: string | undefined
    requestId: string
    what: string
    body: ReadBody
    gone: ClientGone
  }

  /**
   * Sends the request to the worker and its answer to the client. Resolves once the exchange is
   * over (or the client went away); rejects, before any byte of an answer reached the client, with
   * why the function did not answer. A request that fails on a reused connection before any byte
   * of the answer arrived is sent once more on a fresh connection, if the gateway holds its whole
   * body; one whose connection is refused (a worker restarting) is tried again for up to a second
   * (docs/adr/0011).
   */
  function forward(req: IncomingMessage, res: ServerResponse, call: Forward): Promise<void> {
    const { body } = call
    const headers: OutgoingHttpHeaders = {
      ...endToEnd(req.headers),
      'x-forwarded-for': req.socket.remoteAddress ?? '127.0.0.1',
    }
    headers['x-request-id'] = call.requestId
    if (call.token && req.headers.authorization) headers.authorization = `Bearer ${call.token}`
    const hadBody =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
    if (body.whole && hadBody) headers['content-length'] = body.chunks.reduce((sum, c) => sum + c.length, 0)

    let port = call.port
    let refusals = 0
    return new Promise<void>((resolve, reject) => {
      const attempt = (fresh: boolean) => {
        let answered = false
        let retried = false
        const upstream = httpRequest({
          host: '127.0.0.1',
          port,
          method: req.method,
          path: call.path,
          headers,
          // The retry gets a connection of its own, never another socket from the pool.
          agent: fresh ? false : agent,
        })
        const onGone = () => upstream.destroy(new Error('the client went away'))
        call.gone.on(onGone)
        upstream.setTimeout(limits.responseIdleMs, () =>
          upstream.destroy(
            new GatewayError('gateway_timeout', `sent nothing for ${limits.responseIdleMs} ms`),
          ),
        )
        upstream.on('response', (answer) => {
          answered = true
          // A function may answer (413, say) before reading a streamed body: read the rest from
          // the client anyway, or its kept-alive connection stalls on the unread bytes.
          if (!req.complete) {
            req.unpipe(upstream)
            req.resume()
          }
          res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers))
          answer.pipe(res)
          // The worker dropped the connection mid-answer: the client must not take it for whole.
          answer.on('aborted', () => res.destroy())
          answer.on('error', () => res.destroy())
        })
        upstream.on('error', (error) => {
          if (answered || call.gone.aborted) {
            res.destroy()
          } else if (
            (error as NodeJS.ErrnoException).code === 'ECONNREFUSED' &&
            body.whole &&
            refusals < REFUSED_RETRIES
          ) {
            // Nothing listens on the port (yet): the worker is starting again. Nothing was sent.
            retried = true
            if (refusals++ === 0) log('gateway', `${call.what}: ${error.message}; trying again`)
            setTimeout(() => {
              call
                .whenReady()
                .then((ready) => {
                  port = ready
                  attempt(true)
                })
                .catch((failed: Error) => reject(new Error(failed.message)))
            }, REFUSED_RETRY_MS)
          } else if (!fresh && upstream.reusedSocket && body.whole && !(error instanceof GatewayError)) {
            // The worker closed a kept-alive connection as the request went out on it: nothing
            // of the request was handled, so it goes once more, on a new connection.
            retried = true
            log('gateway', `${call.what}: ${error.message} on a reused connection; sent again on a new one`)
            attempt(true)
          } else {
            reject(error instanceof GatewayError ? error : new Error(error.message))
          }
        })
        upstream.on('close', () => {
          call.gone.off(onGone)
          if (retried) return
          if (answered || call.gone.aborted) resolve()
          else reject(new Error('the connection closed without an answer'))
        })
        for (const chunk of body.chunks) upstream.write(chunk)
        if (body.whole) upstream.end()
        else req.pipe(upstream).on('error', () => {})
        if (!body.whole) req.resume()
      }
      attempt(false)
    })
  }

  const server = createServer({ maxHeaderSize: limits.maxHeaderBytes }, (req, res) => {
    const url = req.url ?? '/'
    if (req.rawHeaders.length / 2 > limits.maxHeaders) {
      const message = `A request may carry at most ${limits.maxHeaders} header fields`
      sendError(res, 'request_headers_too_large', message, requestIdOf(req.headers), { close: true })
    } else if (url.startsWith('/functions/v1/')) {
      void toFunction(req, res, url.slice('/functions/v1'.length))
    } else if (options.auth && url.startsWith('/auth/v1/')) {
      // GoTrue limits failed logins per client address: the socket's own, whatever the client claims.
      forwardClientAddress(req)
      void auth(req, res)
    } else if (options.realtime && url.startsWith('/realtime/v1/')) {
      void realtime(req, res)
    } else {
      sendJson(res, 404, { message: 'no Route matched with those values' })
    }
  })
  // A request head Node cannot take (too large, malformed) gets the envelope, not Node's empty answer.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const pending = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage
    if (error.code === 'ECONNRESET' || !socket.writable || pending?.headersSent) {
      socket.destroy()
      return
    }
    if (error.code === 'HPE_HEADER_OVERFLOW')
      writeRawError(
        socket,
        'request_headers_too_large',
        `The request's header fields exceed ${limits.maxHeaderBytes} bytes`,
      )
    else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT')
      writeRawError(socket, 'request_timeout', 'The request did not arrive in time')
    else writeRawError(socket, 'bad_request', 'The request is not valid HTTP')
  })
  server.on('upgrade', (req, socket, head) => {
    if (req.rawHeaders.length / 2 > limits.maxHeaders)
      writeRawError(
        socket,
        'request_headers_too_large',
        `A request may carry at most ${limits.maxHeaders} header fields`,
      )
    else if (options.realtime && req.url?.startsWith('/realtime/v1/'))
      options.realtime.handleUpgrade(req, socket, head)
    else socket.destroy()
  })
  server.on('close', () => agent.destroy())
  return server
}

/** Listens, turning a port that is taken into a message that says so. */
export async function listen(server: Server, port: number, host: string, what: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(
              `Port ${port} on ${host} (${what}) is already in use. Stop what uses it, or choose another port.`,
            )
          : error,
      )
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const address = server.address()
  return typeof address === 'object' && address ? address.port : port
}
