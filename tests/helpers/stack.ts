import { importJWK, type JWK, SignJWT } from 'jose'
import postgres from 'postgres'
import { afterAll, beforeAll, inject } from 'vitest'

/** The local stack this test run started (tests/setup/global.ts). */
export const stack = inject('stack')

/** A connection as postgres (BYPASSRLS, as on hosted), for arranging fixtures and checking what changed. */
export function adminSql() {
  return postgres(stack.dbUrl, { max: 2, onnotice: () => {} })
}

export interface TestUser {
  id: string
  email: string
  token: string
}

export interface TokenOptions {
  sub: string
  email?: string
  /** Seconds from now; negative for a token that has already expired. */
  expiresIn?: number
  claims?: Record<string, unknown>
}

/** An access token shaped and signed like the auth service's (ES256, the JWKS's kid). */
export async function mintAccessToken(options: TokenOptions): Promise<string> {
  const jwk = JSON.parse(stack.signingKeyJwk) as JWK
  const key = await importJWK(jwk, 'ES256')
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({
    aud: 'authenticated',
    role: 'authenticated',
    email: options.email ?? '',
    phone: '',
    aal: 'aal1',
    amr: [{ method: 'password', timestamp: now }],
    session_id: crypto.randomUUID(),
    is_anonymous: false,
    app_metadata: { provider: 'email', providers: ['email'] },
    user_metadata: {},
    ...options.claims,
  })
    .setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'JWT' })
    .setIssuer(`${stack.apiUrl}/auth/v1`)
    .setSubject(options.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 3600))
    .sign(key)
}

/** The password every test user signs up with. */
export const TEST_PASSWORD = 'correct-horse-battery-staple'

/**
 * A user signed up through the stack's auth service (so the signup trigger made their profile),
 * with the access token it issued.
 */
export async function createUser(name = 'user'): Promise<TestUser> {
  const email = `${name}-${crypto.randomUUID().slice(0, 8)}@example.test`
  const response = await fetch(`${stack.apiUrl}/auth/v1/signup`, {
    method: 'POST',
    headers: { apikey: stack.anonKey, 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: TEST_PASSWORD, data: { full_name: name } }),
  })
  const session = (await response.json()) as { access_token?: string; user?: { id: string } }
  if (!response.ok || !session.access_token || !session.user) {
    throw new Error(`signing up ${email} failed: ${response.status} ${JSON.stringify(session)}`)
  }
  return { id: session.user.id, email, token: session.access_token }
}

/**
 * Two users, ada and bob, and an admin connection (closed after the enclosing describe block), as
 * placeholder objects filled in before the block's first test.
 *
 * @deprecated Take `{ sql, ada, bob }` from the test's context instead: `import { it } from
 * './fixtures.ts'`, then `it('…', async ({ sql, ada }) => …)`. Kept only until the branches that
 * still call it are converted; nothing on main does.
 */
export function twoUsers(): { sql: postgres.Sql; ada: TestUser; bob: TestUser } {
  // postgres.js connects on the first query, so making the client here opens nothing yet.
  const sql = adminSql()
  const ada = {} as TestUser
  const bob = {} as TestUser
  beforeAll(async () => {
    Object.assign(ada, await createUser('ada'))
    Object.assign(bob, await createUser('bob'))
  })
  afterAll(() => sql.end())
  return { sql, ada, bob }
}
