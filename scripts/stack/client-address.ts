import type { IncomingMessage } from 'node:http'

/**
 * Sets X-Forwarded-For to the address of the socket a request came on, dropping any the client
 * sent, as the edge proxy in front of hosted GoTrue does: GoTrue limits logins by the first hop of
 * that header, so a made-up one must never reach it. Rewrites the raw headers too, since that is
 * what @hono/node-server builds the service's Request from.
 */
export function forwardClientAddress(req: IncomingMessage): void {
  const address = req.socket.remoteAddress ?? '127.0.0.1'
  const raw = req.rawHeaders
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    if (raw[i].toLowerCase() === 'x-forwarded-for') raw.splice(i, 2)
  }
  raw.push('X-Forwarded-For', address)
  req.headers['x-forwarded-for'] = address
}
