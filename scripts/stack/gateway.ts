import {
  createServer,
  type IncomingMessage,
  request as httpRequest,
  type Server,
  type ServerResponse,
} from 'node:http'
import { Agent } from 'node:http'
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

export interface GatewayOptions {
  host: string
  port: number
  keys: StackKeys
  functions: Map<string, FunctionWorker>
  auth?: FetchService
  realtime?: UpgradeService
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 })

function notFound(): Response {
  return Response.json({ message: 'no Route matched with those values' }, { status: 404 })
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/**
 * The one local origin, like Supabase's API gateway: /functions/v1/<name> to the function's Deno
 * worker, /auth/v1 to the auth service and /realtime/v1 (HTTP and WebSocket) to Realtime.
 */
export function createGateway(options: GatewayOptions): Server {
  const { keys } = options
  const verifyJwt = createJwtVerifier(keys)
  // Services are looked up per request: the stack mounts them once the gateway's port (and so
  // their public URL) is known.
  const auth = getRequestListener((request) => options.auth?.fetch(request) ?? notFound())
  const realtime = getRequestListener((request) => options.realtime?.fetch(request) ?? notFound())

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

  async function toFunction(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
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
    let port: number
    try {
      port = await worker.whenReady()
    } catch (error) {
      sendJson(res, 503, {
        code: 'BOOT_ERROR',
        message: `Function ${name} failed to start: ${(error as Error).message}`,
      })
      return
    }
    const headers = { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '127.0.0.1' }
    if (token && req.headers.authorization) headers.authorization = `Bearer ${token}`
    const upstream = httpRequest(
      { host: '127.0.0.1', port, method: req.method, path, headers, agent },
      (answer) => {
        // A function may answer (413, say) before reading the whole body: read the rest from the
        // client anyway, or its kept-alive connection stalls on the unread bytes.
        if (!req.complete) {
          req.unpipe(upstream)
          req.resume()
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    upstream.on('error', (error) => {
      req.resume()
      if (!res.headersSent)
        sendJson(res, 502, { code: 'BAD_GATEWAY', message: `Function ${name}: ${error.message}` })
      else res.destroy()
    })
    req.pipe(upstream)
  }

  const server = createServer((req, res) => {
    const url = req.url ?? '/'
    if (url.startsWith('/functions/v1/')) {
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
  server.on('upgrade', (req, socket, head) => {
    if (options.realtime && req.url?.startsWith('/realtime/v1/'))
      options.realtime.handleUpgrade(req, socket, head)
    else socket.destroy()
  })
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
