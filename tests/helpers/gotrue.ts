import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import { importJWK, type JWK } from 'jose'
import postgres from 'postgres'
import { inject } from 'vitest'
import WebSocket from 'ws'
import { createGateway, type GatewayOptions, listen } from '../../scripts/stack/gateway.ts'
import { createGoTrueService, type GoTrueServiceOptions } from '../../scripts/stack/gotrue/service.ts'
import type { StackKeys } from '../../scripts/stack/keys.ts'

const stack = inject('stack')

/** The keys of the stack this run started, rebuilt from what the global setup provides. */
async function stackKeys(): Promise<StackKeys> {
  const privateJwk = JSON.parse(stack.signingKeyJwk) as JWK
  const jwks = JSON.parse(stack.jwks) as { keys: JWK[] }
  return {
    jwtSecret: stack.jwtSecret,
    anonKey: stack.anonKey,
    serviceRoleKey: stack.serviceRoleKey,
    signingKey: {
      kid: privateJwk.kid as string,
      privateJwk,
      publicJwk: jwks.keys[0],
      privateKey: (await importJWK(privateJwk, 'ES256')) as CryptoKey,
    },
    jwks,
  }
}

export interface ServedGoTrue {
  /** The origin supabase-js is given; the service answers under `${url}/auth/v1`. */
  url: string
  close(): Promise<void>
}

/**
 * A second GoTrue service on the stack's database with its own settings (short reuse interval, low
 * login limits), behind a gateway of its own on a free port, mounted as the stack mounts its own
 * (so the client address it limits logins by is the socket's, as in the stack).
 */
export async function serveGoTrue(
  settings: Omit<GoTrueServiceOptions, 'sql' | 'keys' | 'issuer'> = {},
): Promise<ServedGoTrue> {
  const sql = postgres(stack.dbUrl, { max: 2, onnotice: () => {} })
  const keys = await stackKeys()
  const options: GatewayOptions = { host: '127.0.0.1', port: 0, keys, functions: new Map() }
  const gateway = createGateway(options)
  // The issuer names the port, which is known only once the gateway listens.
  const port = await listen(gateway, 0, '127.0.0.1', 'GoTrue for tests')
  const url = `http://127.0.0.1:${port}`
  options.auth = createGoTrueService({ sql, keys, issuer: `${url}/auth/v1`, ...settings })
  return {
    url,
    async close() {
      gateway.closeAllConnections()
      await new Promise<void>((resolve) => gateway.close(() => resolve()))
      await sql.end()
    },
  }
}

/** The real supabase-js client as an app would create it on a server: no storage, no timers. */
export function authClient(
  url: string,
  options: { headers?: Record<string, string>; fetch?: typeof fetch } = {},
) {
  return createClient(url, stack.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: { headers: options.headers, fetch: options.fetch },
    // Node 20 has no global WebSocket; supabase-js builds its realtime client eagerly.
    realtime: { transport: WebSocket as unknown as typeof globalThis.WebSocket },
  }) as SupabaseClient
}

/** A fresh address for each test user, so tests never share accounts. */
export function newEmail(label = 'user'): string {
  return `${label}-${crypto.randomUUID().slice(0, 12)}@example.test`
}
