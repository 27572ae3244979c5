import { createLocalJWKSet } from 'jose'
import { verifyAccessToken } from '../shared/http/require-user.ts'
import { expectOk, type Measurement, measure, signUp } from './lib.ts'
import type { BenchContext } from './run.ts'

const PASSWORD = 'bench-password-1'

/**
 * The local auth service over the gateway: password logins (bcrypt cost 10 included, so few per
 * second by design), refreshes and GET /user; and the functions' middleware verifying an access
 * token in process (ES256 against the JWKS), which every authenticated function request pays.
 */
export async function benchAuth({ stack }: BenchContext): Promise<Measurement[]> {
  const auth = `${stack.apiUrl}/auth/v1`
  const headers = { apikey: stack.keys.anonKey, 'content-type': 'application/json' }
  const email = `bench-login-${crypto.randomUUID()}@example.test`
  const session = await signUp(stack, email, PASSWORD)

  const login = JSON.stringify({ email, password: PASSWORD })
  // Each refresh spends the token it was given, so the chain is followed one request at a time.
  let refreshToken = session.refresh_token
  const config = {
    supabaseUrl: stack.apiUrl,
    dbUrl: stack.dbUrl,
    jwtSecret: stack.keys.jwtSecret,
    jwks: createLocalJWKSet(stack.keys.jwks),
    corsOrigins: [],
    rateLimits: { perUserPerMinute: 0, perAddressPerMinute: 0 },
  }

  return [
    await measure(
      'POST token?grant_type=password (bcrypt cost 10)',
      async () =>
        expectOk(await fetch(`${auth}/token?grant_type=password`, { method: 'POST', headers, body: login })),
      { requests: 200, concurrency: 4, warmup: 10 },
    ),
    await measure(
      'POST token?grant_type=refresh_token',
      async () => {
        const response = await fetch(`${auth}/token?grant_type=refresh_token`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ refresh_token: refreshToken }),
        })
        if (!response.ok) throw new Error(`refresh failed: ${response.status} ${await response.text()}`)
        refreshToken = ((await response.json()) as { refresh_token: string }).refresh_token
      },
      { requests: 500, concurrency: 1, warmup: 10 },
    ),
    await measure('GET /user (verify token, load user and session)', async () =>
      expectOk(
        await fetch(`${auth}/user`, {
          headers: { ...headers, authorization: `Bearer ${session.access_token}` },
        }),
      ),
    ),
    await measure('middleware verifyAccessToken (ES256, in process)', () =>
      verifyAccessToken(session.access_token, config),
    ),
  ]
}
