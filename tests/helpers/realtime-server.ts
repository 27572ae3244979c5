import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { getRequestListener } from '@hono/node-server'
import type { PollOptions } from '../../scripts/stack/realtime/changes.ts'
import { createRealtimeServer, type Limits } from '../../scripts/stack/realtime/server.ts'
import { stack } from './stack.ts'

export interface ServedRealtime {
  /** The base URL to give createClient (Realtime answers under /realtime/v1). */
  url: string
  /** What the server reported (slow consumers dropped, failed checks). */
  logs: string[]
  /** Resolves once the server has logged a line matching `pattern`. */
  logged(pattern: RegExp, timeoutMs?: number): Promise<string>
  close(): Promise<void>
}

/**
 * A Realtime server of its own, on the stack's database, behind a plain Node HTTP server on a free
 * port, mounted as the gateway mounts it: tests can give it their own limits and polling, and read
 * its log.
 */
export async function serveRealtime(
  limits: Partial<Limits> = {},
  feed: { poll?: Partial<PollOptions>; listen?: boolean; onChannels?: (any: boolean) => void } = {},
): Promise<ServedRealtime> {
  const logs: string[] = []
  const waiters: Array<() => void> = []
  const realtime = await createRealtimeServer({
    dbUrl: stack.dbUrl,
    keys: { jwtSecret: stack.jwtSecret, jwks: JSON.parse(stack.jwks) },
    limits,
    ...feed,
    log: (line) => {
      logs.push(line)
      for (const wake of waiters.splice(0)) wake()
    },
  })
  const http = createServer(getRequestListener((request) => realtime.fetch(request)))
  http.on('upgrade', (request, socket, head) => {
    if (request.url?.startsWith('/realtime/v1/')) realtime.handleUpgrade(request, socket, head)
    else socket.destroy()
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const { port } = http.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    logs,
    async logged(pattern, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const line = logs.find((l) => pattern.test(l))
        if (line) return line
        if (Date.now() > deadline)
          throw new Error(`the server never logged ${pattern}; it logged: ${logs.join('\n')}`)
        await new Promise<void>((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, deadline - Date.now()).unref()
        })
      }
    },
    async close() {
      await realtime.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}
