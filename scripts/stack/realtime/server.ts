import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import type { StackKeys } from '../keys.ts'
import { ChangeFeed, DEFAULT_POLL, type PollOptions } from './changes.ts'
import { Connection } from './connection.ts'
import type { Vsn } from './frames.ts'
import { DEFAULT_LIMITS, Hub, type Limits, type Log } from './hub.ts'
import { handleRest } from './rest.ts'
import { RealtimeStore } from './store.ts'
import { createTokenVerifier, TokenError } from './tokens.ts'

export type { Limits } from './hub.ts'

export interface RealtimeServerOptions {
  /** The database, as supabase_admin (as hosted Realtime logs in) or postgres (tests). */
  dbUrl: string
  keys: Pick<StackKeys, 'jwtSecret' | 'jwks'>
  limits?: Partial<Limits>
  poll?: Partial<PollOptions>
  /**
   * LISTEN for the capture triggers' notifications, which say that changes have committed. On a
   * PostgreSQL server that is how changes reach subscribers at once; on the embedded database,
   * whose clients share one session, the stack calls changesMayHaveCommitted() instead.
   */
  listen?: boolean
  /**
   * Called with true when the first channel joins and with false when the last one leaves: only in
   * between does a hint to changesMayHaveCommitted() make anyone hear of a change sooner.
   */
  onChannels?: (any: boolean) => void
  /** Where unexpected problems are reported; stderr by default. */
  log?: Log
}

export interface RealtimeServer {
  /** For a Node http server's `upgrade` event on `/realtime/v1/websocket`. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void
  /** The REST endpoints under `/realtime/v1/api/…`. */
  fetch(request: Request): Promise<Response>
  close(): Promise<void>
  /** A hint that a transaction may have committed: look for new changes now rather than at the next poll. */
  changesMayHaveCommitted(): void
  /** A hint that sessions may have ended (a sign-out): close their channels now rather than at the next check. */
  sessionsMayHaveEnded(): void
}

/**
 * A Supabase Realtime-compatible server for the local stack: the Phoenix socket protocol that
 * @supabase/realtime-js speaks (broadcast, presence, postgres_changes with per-subscriber RLS,
 * private channels authorized by RLS on realtime.messages) and the REST broadcast API.
 */
export async function createRealtimeServer(options: RealtimeServerOptions): Promise<RealtimeServer> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits }
  const log = options.log ?? ((line: string) => console.error(`[realtime] ${line}`))
  const store = new RealtimeStore(options.dbUrl)
  const hub = new Hub(store, createTokenVerifier(options.keys), limits, log)
  const feed = new ChangeFeed(hub, { ...DEFAULT_POLL, ...options.poll })
  // Frames a little over the payload limit still parse, so the client hears why they were refused.
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxPayloadBytes + 64 * 1024 })
  let closing = false

  hub.onJoin = () => feed.wake()
  if (options.onChannels) hub.onChannels = options.onChannels
  try {
    await feed.start()
    if (options.listen) await store.listen(() => feed.committed())
  } catch (error) {
    await feed.stop()
    await store.close()
    throw error
  }

  const sweeper = setInterval(
    () => {
      const cutoff = Date.now() - limits.idleTimeoutMs
      for (const connection of hub.connections) if (connection.lastSeen < cutoff) connection.terminate()
    },
    Math.min(15_000, limits.idleTimeoutMs),
  )
  sweeper.unref()
  // Tokens are not refused only at join: a channel whose session ends (sign-out) closes within this.
  const sessionChecker = setInterval(() => void hub.closeEndedSessions(), limits.sessionCheckMs)
  sessionChecker.unref()

  function refuse(socket: Duplex, status: number, error: string): void {
    const body = JSON.stringify({ error })
    const reason = status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Bad Request'
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `connection: close\r\n\r\n${body}`,
    )
  }

  return {
    changesMayHaveCommitted: () => feed.wake(),
    sessionsMayHaveEnded: () => void hub.closeEndedSessions(),
    handleUpgrade(request, socket, head) {
      const url = new URL(request.url ?? '/', 'http://localhost')
      if (closing || !/\/websocket\/?$/.test(url.pathname)) {
        refuse(socket, 404, 'Not Found')
        return
      }
      const header = request.headers['x-api-key']
      const apiKey = url.searchParams.get('apikey') ?? (typeof header === 'string' ? header : null)
      const vsn = url.searchParams.get('vsn') ?? '1.0.0'
      if (!apiKey) {
        refuse(socket, 401, 'API key is missing')
        return
      }
      if (vsn !== '1.0.0' && vsn !== '2.0.0') {
        refuse(socket, 400, `Unsupported protocol version ${vsn}`)
        return
      }
      hub
        .verify(apiKey)
        .then(
          () => wss.handleUpgrade(request, socket, head, (ws) => new Connection(hub, ws, vsn as Vsn, apiKey)),
          (error: unknown) =>
            refuse(socket, 401, error instanceof TokenError ? error.message : 'Unauthorized'),
        )
        .catch(() => socket.destroy())
    },

    async fetch(request) {
      try {
        return await handleRest(hub, request)
      } catch (error) {
        log(`REST request failed: ${(error as Error).stack ?? error}`)
        return Response.json({ message: 'Internal error' }, { status: 500 })
      }
    },

    async close() {
      if (closing) return
      closing = true
      clearInterval(sweeper)
      clearInterval(sessionChecker)
      await feed.stop()
      for (const connection of hub.connections) connection.close(1001, 'server shutting down')
      const closed = new Promise<void>((resolve) => wss.close(() => resolve()))
      // Clients that do not answer the close handshake promptly are cut off.
      const grace = setTimeout(() => {
        for (const connection of hub.connections) connection.terminate()
      }, 1000)
      await closed
      clearTimeout(grace)
      await hub.sessionChecksDone()
      await store.close()
    },
  }
}
