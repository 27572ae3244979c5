import { importJWK, type JWK, SignJWT } from 'jose'
import postgres from 'postgres'
import { inject } from 'vitest'

/** The local stack this test run started (tests/setup/global.ts). */
export const stack = inject('stack')

/** A superuser connection to the test database, for arranging fixtures and checking what changed. */
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

/** A user in auth.users (the signup trigger creates the profile) with a valid access token. */
export async function createUser(sql: postgres.Sql, name = 'user'): Promise<TestUser> {
  const id = crypto.randomUUID()
  const email = `${name}-${id.slice(0, 8)}@example.test`
  await sql`
    insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
    values (${id}, 'authenticated', 'authenticated', ${email}, now(),
            ${sql.json({ provider: 'email', providers: ['email'] })}, ${sql.json({ full_name: name })}, now(), now())`
  return { id, email, token: await mintAccessToken({ sub: id, email }) }
}
