import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authClient, newEmail, type ServedGoTrue, serveGoTrue } from '../helpers/gotrue.ts'
import { adminSql, stack } from '../helpers/stack.ts'

// The local GoTrue service (scripts/stack/gotrue), driven by the real supabase-js client through the stack's gateway (and,
// where a setting must differ, through a second instance on the same database).

const PASSWORD = 'correct-horse-1'
const db = adminSql()
afterAll(() => db.end())

/** A raw request to a GoTrue service, with the anon key and (unless `legacy`) the 2024-01-01 API version. */
function gotrue(base: string, path: string, init: RequestInit & { legacy?: boolean } = {}) {
  const headers = new Headers(init.headers)
  if (!headers.has('apikey')) headers.set('apikey', stack.anonKey)
  if (!init.legacy) headers.set('X-Supabase-Api-Version', '2024-01-01')
  if (init.body) headers.set('content-type', 'application/json')
  return fetch(`${base}/auth/v1${path}`, { ...init, headers })
}

/** Signs a user up and returns a client holding that user's session. */
async function signedUp(base = stack.apiUrl, data: Record<string, unknown> = {}) {
  const email = newEmail()
  const client = authClient(base)
  const { data: result, error } = await client.auth.signUp({ email, password: PASSWORD, options: { data } })
  expect(error).toBeNull()
  if (!result.session || !result.user) throw new Error('signUp returned no session')
  return { client, email, session: result.session, user: result.user }
}

/** Another session of the same user, in its own client. */
async function signIn(email: string, base = stack.apiUrl, password = PASSWORD) {
  const client = authClient(base)
  const { data, error } = await client.auth.signInWithPassword({ email, password })
  expect(error).toBeNull()
  if (!data.session) throw new Error('signInWithPassword returned no session')
  return { client, session: data.session }
}

async function userStatus(accessToken: string) {
  const response = await gotrue(stack.apiUrl, '/user', {
    headers: { authorization: `Bearer ${accessToken}` },
  })
  return { status: response.status, body: await response.json() }
}

describe('sign up and sign in', () => {
  it('signUp creates a confirmed user with its metadata and returns a session', async () => {
    const { session, user, email } = await signedUp(stack.apiUrl, { full_name: 'Ada Lovelace' })
    expect(session).toMatchObject({ token_type: 'bearer', expires_in: 3600 })
    expect(session.refresh_token).toMatch(/^[a-z0-9]{12}$/)
    expect(session.expires_at).toBe(decodeJwt(session.access_token).exp)
    expect(user).toMatchObject({
      aud: 'authenticated',
      role: 'authenticated',
      email,
      phone: '',
      app_metadata: { provider: 'email', providers: ['email'] },
      user_metadata: { full_name: 'Ada Lovelace', email_verified: true },
      is_anonymous: false,
    })
    expect(user.email_confirmed_at).toBeTruthy()
    expect(user.identities).toEqual([
      expect.objectContaining({ provider: 'email', id: user.id, user_id: user.id, email }),
    ])

    const [row] = await db`
      select u.encrypted_password, u.raw_user_meta_data, i.provider, s.id as session_id
      from auth.users u join auth.identities i on i.user_id = u.id join auth.sessions s on s.user_id = u.id
      where u.id = ${user.id}`
    expect(row.encrypted_password).toMatch(/^\$2[aby]\$(1\d|[2-9]\d)\$/)
    expect(row.session_id).toBe(decodeJwt(session.access_token).session_id)
  })

  it('the signup trigger creates the profile in the same transaction', async (context) => {
    const [{ profiles }] = await db`select to_regclass('public.profiles') as profiles`
    if (!profiles) context.skip()
    const { user } = await signedUp(stack.apiUrl, { full_name: 'Grace Hopper' })
    const rows = await db`select id from public.profiles where id = ${user.id}`
    expect(rows).toHaveLength(1)
  })

  it('signInWithPassword opens a new session, whatever the case of the email', async () => {
    const { email, session: first } = await signedUp()
    const { session } = await signIn(email.toUpperCase())
    expect(session.user.email).toBe(email)
    expect(decodeJwt(session.access_token).session_id).not.toBe(decodeJwt(first.access_token).session_id)
    const [{ count }] =
      await db`select count(*)::int as count from auth.sessions where user_id = ${session.user.id}`
    expect(count).toBe(2)
  })

  it('issues ES256 access tokens with the kid the JWKS publishes and GoTrue claims', async () => {
    const { session, user, email } = await signedUp(stack.apiUrl, { plan: 'pro' })
    const jwks = JSON.parse(stack.jwks)
    expect(decodeProtectedHeader(session.access_token)).toEqual({
      alg: 'ES256',
      kid: jwks.keys[0].kid,
      typ: 'JWT',
    })
    const claims = decodeJwt(session.access_token)
    expect(Object.keys(claims).sort()).toEqual(
      [
        'aal',
        'amr',
        'app_metadata',
        'aud',
        'email',
        'exp',
        'iat',
        'is_anonymous',
        'iss',
        'phone',
        'role',
        'session_id',
        'sub',
        'user_metadata',
      ].sort(),
    )
    expect(claims).toMatchObject({
      iss: `${stack.apiUrl}/auth/v1`,
      sub: user.id,
      aud: 'authenticated',
      email,
      phone: '',
      role: 'authenticated',
      aal: 'aal1',
      is_anonymous: false,
      app_metadata: { provider: 'email', providers: ['email'] },
      user_metadata: { plan: 'pro', email_verified: true },
    })
    expect((claims.exp as number) - (claims.iat as number)).toBe(3600)
    expect(claims.amr).toEqual([{ method: 'password', timestamp: expect.any(Number) }])
  })
})

describe('user', () => {
  it('getUser returns the user the token belongs to', async () => {
    const { client, user } = await signedUp()
    const { data, error } = await client.auth.getUser()
    expect(error).toBeNull()
    expect(data.user).toEqual(expect.objectContaining({ id: user.id, email: user.email }))
  })

  it('getClaims verifies the token against the JWKS without asking /user', async () => {
    const requested: string[] = []
    const recording: typeof fetch = (input, init) => {
      requested.push(new URL(input instanceof Request ? input.url : String(input)).pathname)
      return fetch(input, init)
    }
    const { session, user } = await signedUp()
    const client = authClient(stack.apiUrl, { fetch: recording })
    const { data, error } = await client.auth.getClaims(session.access_token)
    expect(error).toBeNull()
    expect(data?.claims.sub).toBe(user.id)
    expect(requested).toEqual(['/auth/v1/.well-known/jwks.json'])

    const [header, payload] = session.access_token.split('.')
    const forged = `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`
    const forgedResult = await client.auth.getClaims(forged)
    expect(forgedResult.error?.name).toBe('AuthInvalidJwtError')
  })

  it('updateUser merges data into user_metadata and a null deletes a key', async () => {
    const { client } = await signedUp(stack.apiUrl, { full_name: 'Old', theme: 'dark' })
    const { data, error } = await client.auth.updateUser({
      data: { full_name: 'New', theme: null, locale: 'de' },
    })
    expect(error).toBeNull()
    expect(data.user?.user_metadata).toEqual({ full_name: 'New', locale: 'de', email_verified: true })
    const again = await client.auth.getUser()
    expect(again.data.user?.user_metadata).toEqual({ full_name: 'New', locale: 'de', email_verified: true })
  })

  it('a new password replaces the old one and ends the other sessions, not this one', async () => {
    const { client, email, session } = await signedUp()
    const other = await signIn(email)
    const { error } = await client.auth.updateUser({ password: 'a-new-password' })
    expect(error).toBeNull()

    expect((await userStatus(session.access_token)).status).toBe(200)
    expect((await userStatus(other.session.access_token)).body.code).toBe('session_not_found')
    const oldLogin = await authClient(stack.apiUrl).auth.signInWithPassword({ email, password: PASSWORD })
    expect(oldLogin.error?.code).toBe('invalid_credentials')
    await signIn(email, stack.apiUrl, 'a-new-password')
  })

  it('refuses the same password and a weak one', async () => {
    const { client } = await signedUp()
    const same = await client.auth.updateUser({ password: PASSWORD })
    expect(same.error).toMatchObject({ status: 422, code: 'same_password' })
    const weak = await client.auth.updateUser({ password: '123' })
    expect(weak.error).toMatchObject({ status: 422, code: 'weak_password', reasons: ['length'] })
  })

  it('gives one address to one of two users racing for it, and the other email_exists', async () => {
    const [first, second] = await Promise.all([signedUp(), signedUp()])
    const email = newEmail('contested')
    const results = await Promise.all([
      first.client.auth.updateUser({ email }),
      second.client.auth.updateUser({ email }),
    ])
    const errors = results.map((result) => result.error)
    expect(errors.filter((error) => error === null)).toHaveLength(1)
    expect(errors.find((error) => error !== null)).toMatchObject({ status: 422, code: 'email_exists' })
  })

  it('changes the email at once (there is no mailer to confirm it with)', async () => {
    const { client } = await signedUp()
    const taken = (await signedUp()).email
    const clash = await client.auth.updateUser({ email: taken })
    expect(clash.error).toMatchObject({ status: 422, code: 'email_exists' })

    const email = newEmail('moved')
    const { data, error } = await client.auth.updateUser({ email })
    expect(error).toBeNull()
    expect(data.user?.email).toBe(email)
    await signIn(email)
  })
})

describe('refresh tokens', () => {
  it('refreshSession rotates the token within the same session', async () => {
    const { client, session } = await signedUp()
    const { data, error } = await client.auth.refreshSession({ refresh_token: session.refresh_token })
    expect(error).toBeNull()
    const next = data.session
    expect(next?.refresh_token).not.toBe(session.refresh_token)
    expect(decodeJwt(next?.access_token ?? '').session_id).toBe(decodeJwt(session.access_token).session_id)
    const rows = await db`
      select token, revoked, parent from auth.refresh_tokens where token in ${db([session.refresh_token, next?.refresh_token ?? ''])}`
    expect(rows).toEqual(
      expect.arrayContaining([
        { token: session.refresh_token, revoked: true, parent: null },
        { token: next?.refresh_token, revoked: false, parent: session.refresh_token },
      ]),
    )
  })

  it('replaying the parent of the active token returns the active token again', async () => {
    const { session } = await signedUp()
    const client = authClient(stack.apiUrl)
    const second = await client.auth.refreshSession({ refresh_token: session.refresh_token })
    const replay = await client.auth.refreshSession({ refresh_token: session.refresh_token })
    expect(replay.error).toBeNull()
    expect(replay.data.session?.refresh_token).toBe(second.data.session?.refresh_token)
  })

  it('an older spent token within the reuse interval continues the same session', async () => {
    const { session } = await signedUp()
    const client = authClient(stack.apiUrl)
    const b = await client.auth.refreshSession({ refresh_token: session.refresh_token })
    await client.auth.refreshSession({ refresh_token: b.data.session?.refresh_token ?? '' })
    const replay = await client.auth.refreshSession({ refresh_token: session.refresh_token })
    expect(replay.error).toBeNull()
    expect(decodeJwt(replay.data.session?.access_token ?? '').session_id).toBe(
      decodeJwt(session.access_token).session_id,
    )
  })

  describe('after the reuse interval', () => {
    let strict: ServedGoTrue
    beforeAll(async () => {
      strict = await serveGoTrue({ refreshTokenReuseInterval: 0 })
    })
    afterAll(() => strict.close())

    it('reusing a spent token revokes every token of the session', async () => {
      const { session } = await signedUp(strict.url)
      const client = authClient(strict.url)
      const b = await client.auth.refreshSession({ refresh_token: session.refresh_token })
      const c = await client.auth.refreshSession({ refresh_token: b.data.session?.refresh_token ?? '' })
      const latest = c.data.session?.refresh_token ?? ''

      const reuse = await client.auth.refreshSession({ refresh_token: session.refresh_token })
      expect(reuse.error).toMatchObject({ status: 400, code: 'refresh_token_already_used' })
      const afterwards = await authClient(strict.url).auth.refreshSession({ refresh_token: latest })
      expect(afterwards.error).toMatchObject({ status: 400, code: 'refresh_token_already_used' })
      const [{ live }] = await db`
        select count(*)::int as live from auth.refresh_tokens
        where session_id = ${decodeJwt(session.access_token).session_id as string} and not revoked`
      expect(live).toBe(0)
    })
  })

  it('a session deleted on the server ends its refresh token and its access token', async () => {
    const { session } = await signedUp()
    await db`delete from auth.sessions where id = ${decodeJwt(session.access_token).session_id as string}`

    const refresh = await authClient(stack.apiUrl).auth.refreshSession({
      refresh_token: session.refresh_token,
    })
    expect(refresh.error).toMatchObject({ status: 400, code: 'refresh_token_not_found' })
    const user = await authClient(stack.apiUrl).auth.getUser(session.access_token)
    expect(user.error?.name).toBe('AuthSessionMissingError')
    expect(await userStatus(session.access_token)).toMatchObject({
      status: 403,
      body: { code: 'session_not_found' },
    })
  })
})

describe('signOut scopes', () => {
  async function threeSessions() {
    const first = await signedUp()
    const second = await signIn(first.email)
    const third = await signIn(first.email)
    return [first, second, third]
  }
  const alive = async (accessToken: string) => (await userStatus(accessToken)).status === 200

  it('others ends every session but this one', async () => {
    const [me, a, b] = await threeSessions()
    expect((await me.client.auth.signOut({ scope: 'others' })).error).toBeNull()
    expect(await alive(me.session.access_token)).toBe(true)
    expect(await alive(a.session.access_token)).toBe(false)
    expect(await alive(b.session.access_token)).toBe(false)
  })

  it('local ends only this session', async () => {
    const [me, a, b] = await threeSessions()
    expect((await me.client.auth.signOut({ scope: 'local' })).error).toBeNull()
    expect(await alive(me.session.access_token)).toBe(false)
    expect(await alive(a.session.access_token)).toBe(true)
    expect(await alive(b.session.access_token)).toBe(true)
    const refresh = await authClient(stack.apiUrl).auth.refreshSession({
      refresh_token: me.session.refresh_token,
    })
    expect(refresh.error?.code).toBe('refresh_token_not_found')
  })

  it('global (the default) ends every session of the user', async () => {
    const [me, a, b] = await threeSessions()
    expect((await me.client.auth.signOut()).error).toBeNull()
    for (const { session } of [me, a, b]) expect(await alive(session.access_token)).toBe(false)
  })

  it('refuses a scope GoTrue does not know', async () => {
    const { session } = await signedUp()
    const response = await gotrue(stack.apiUrl, '/logout?scope=everywhere', {
      method: 'POST',
      headers: { authorization: `Bearer ${session.access_token}` },
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ code: 'validation_failed' })
  })
})

describe('errors, as GoTrue words them', () => {
  it('wrong password and unknown email are both invalid_credentials', async () => {
    const { email } = await signedUp()
    const client = authClient(stack.apiUrl)
    const wrong = await client.auth.signInWithPassword({ email, password: 'not-the-password' })
    expect(wrong.error).toMatchObject({
      status: 400,
      code: 'invalid_credentials',
      message: 'Invalid login credentials',
    })
    const unknown = await client.auth.signInWithPassword({ email: newEmail('nobody'), password: PASSWORD })
    expect(unknown.error).toMatchObject({ status: 400, code: 'invalid_credentials' })
  })

  it('signing up an existing email is user_already_exists', async () => {
    const { email } = await signedUp()
    const { error } = await authClient(stack.apiUrl).auth.signUp({ email, password: PASSWORD })
    expect(error).toMatchObject({
      status: 422,
      code: 'user_already_exists',
      message: 'User already registered',
    })
  })

  it('a short password is weak_password with its reasons, and no account is created', async () => {
    const email = newEmail()
    const { error } = await authClient(stack.apiUrl).auth.signUp({ email, password: '12345' })
    expect(error).toMatchObject({ status: 422, code: 'weak_password', reasons: ['length'] })
    expect(await db`select 1 from auth.users where email = ${email}`).toHaveLength(0)
    const raw = await gotrue(stack.apiUrl, '/signup', {
      method: 'POST',
      body: JSON.stringify({ email, password: '1' }),
    })
    expect(await raw.json()).toEqual({
      code: 'weak_password',
      message: 'Password should be at least 6 characters.',
      weak_password: { reasons: ['length'] },
    })
  })

  it('malformed input is validation_failed, bad_json or too large', async () => {
    const client = authClient(stack.apiUrl)
    const malformed = await client.auth.signUp({ email: 'not-an-email', password: PASSWORD })
    expect(malformed.error).toMatchObject({ status: 400, code: 'validation_failed' })
    const unicode = await client.auth.signUp({ email: 'jürgen@exämple.test', password: PASSWORD })
    expect(unicode.error).toMatchObject({ status: 400, code: 'validation_failed' })
    const long = await client.auth.signUp({ email: `${'a'.repeat(250)}@example.test`, password: PASSWORD })
    expect(long.error).toMatchObject({
      status: 400,
      code: 'validation_failed',
      message: 'An email address is too long',
    })

    const post = (path: string, body: string) => gotrue(stack.apiUrl, path, { method: 'POST', body })
    const noPassword = await post('/signup', JSON.stringify({ email: newEmail() }))
    expect([noPassword.status, (await noPassword.json()).code]).toEqual([400, 'validation_failed'])
    const noEmail = await post('/token?grant_type=password', JSON.stringify({ password: PASSWORD }))
    expect(await noEmail.json()).toEqual({ code: 'validation_failed', message: 'missing email or phone' })
    const notJson = await post('/token?grant_type=password', '{"email":')
    expect([notJson.status, (await notJson.json()).code]).toEqual([400, 'bad_json'])
    const wrongType = await post('/signup', JSON.stringify({ email: ['a@b.test'], password: PASSWORD }))
    expect([wrongType.status, (await wrongType.json()).code]).toEqual([400, 'bad_json'])
    const huge = await post(
      '/signup',
      JSON.stringify({ email: newEmail(), password: PASSWORD, data: { x: 'x'.repeat(1 << 20) } }),
    )
    expect([huge.status, (await huge.json()).code]).toEqual([413, 'request_entity_too_large'])
  })

  it('unknown and malformed refresh tokens', async () => {
    const client = authClient(stack.apiUrl)
    const unknown = await client.auth.refreshSession({ refresh_token: 'abcdefghijkl' })
    expect(unknown.error).toMatchObject({ status: 400, code: 'refresh_token_not_found' })
    const malformed = await client.auth.refreshSession({ refresh_token: "x' or '1'='1" })
    expect(malformed.error).toMatchObject({ status: 400, code: 'validation_failed' })
  })

  it('no Bearer token is no_authorization; a bad or expired one is bad_jwt', async () => {
    const none = await gotrue(stack.apiUrl, '/user')
    expect(none.status).toBe(401)
    expect(await none.json()).toEqual({
      code: 'no_authorization',
      message: 'This endpoint requires a valid Bearer token',
    })

    const { session, user } = await signedUp()
    const [header, payload] = session.access_token.split('.')
    const forged = `${header}.${payload}.${Buffer.from('x'.repeat(64)).toString('base64url')}`
    const expired = await new SignJWT({ role: 'authenticated', aud: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(user.id)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(stack.jwtSecret))
    for (const token of [forged, expired, 'not.a.jwt', stack.anonKey]) {
      const { status, body } = await userStatus(token)
      expect([status, body.code]).toEqual([403, 'bad_jwt'])
    }
    const viaClient = await authClient(stack.apiUrl).auth.getUser(forged)
    expect(viaClient.error).toMatchObject({ status: 403, code: 'bad_jwt' })
  })

  it('accepts legacy HS256 user tokens, as GoTrue does', async () => {
    const { user } = await signedUp()
    const legacy = await new SignJWT({ role: 'authenticated', aud: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(user.id)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(stack.jwtSecret))
    expect(await userStatus(legacy)).toMatchObject({ status: 200, body: { id: user.id } })
  })

  it('without the API version header the body is the legacy {code, error_code, msg}', async () => {
    const response = await gotrue(stack.apiUrl, '/token?grant_type=password', {
      method: 'POST',
      legacy: true,
      body: JSON.stringify({ email: newEmail('nobody'), password: PASSWORD }),
    })
    expect(response.headers.get('x-supabase-api-version')).toBeNull()
    expect(await response.json()).toEqual({
      code: 400,
      error_code: 'invalid_credentials',
      msg: 'Invalid login credentials',
    })
    const dated = await gotrue(stack.apiUrl, '/token?grant_type=password', {
      method: 'POST',
      body: JSON.stringify({ email: newEmail('nobody'), password: PASSWORD }),
    })
    expect(dated.headers.get('x-supabase-api-version')).toBe('2024-01-01')
  })

  it('requires an API key, as the gateway does', async () => {
    const missing = await fetch(`${stack.apiUrl}/auth/v1/settings`)
    expect(missing.status).toBe(401)
    expect(await missing.json()).toMatchObject({ message: 'No API key found in request' })
    const forged = await gotrue(stack.apiUrl, '/settings', {
      headers: { apikey: 'eyJhbGciOiJIUzI1NiJ9.e30.x' },
    })
    expect(forged.status).toBe(401)
    const { error } = await authClient(stack.apiUrl, {
      headers: { apikey: 'wrong' },
    }).auth.signInWithPassword({
      email: newEmail(),
      password: PASSWORD,
    })
    expect(error?.status).toBe(401)
  })
})

describe('public endpoints and CORS', () => {
  it('serves the JWKS without an API key, cacheable for ten minutes', async () => {
    const response = await fetch(`${stack.apiUrl}/auth/v1/.well-known/jwks.json`)
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('public, max-age=600')
    expect(await response.json()).toEqual(JSON.parse(stack.jwks))
  })

  it('answers health and settings', async () => {
    expect(await (await gotrue(stack.apiUrl, '/health')).json()).toMatchObject({ name: 'GoTrue' })
    expect(await (await gotrue(stack.apiUrl, '/settings')).json()).toMatchObject({
      external: { email: true },
      mailer_autoconfirm: true,
    })
  })

  it('allows browsers from any origin and exposes the API version header', async () => {
    const preflight = await fetch(`${stack.apiUrl}/auth/v1/token?grant_type=password`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:3000',
        'access-control-request-method': 'POST',
        'access-control-request-headers':
          'apikey, authorization, content-type, x-client-info, x-supabase-api-version',
      },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
    expect(preflight.headers.get('access-control-allow-headers')).toContain('x-supabase-api-version')

    const failed = await gotrue(stack.apiUrl, '/token?grant_type=password', {
      method: 'POST',
      headers: { origin: 'http://localhost:3000' },
      body: JSON.stringify({ email: newEmail(), password: PASSWORD }),
    })
    expect(failed.headers.get('access-control-expose-headers')?.toLowerCase()).toContain(
      'x-supabase-api-version',
    )
  })
})
