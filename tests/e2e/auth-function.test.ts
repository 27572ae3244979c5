import { decodeJwt } from 'jose'
import { afterAll, describe, expect, it } from 'vitest'
import { app } from '../../functions/auth/app.ts'
import { setConfigForTests } from '../../shared/config.ts'
import { requestOnce } from '../helpers/domain.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { newEmail, serveGoTrue } from '../helpers/gotrue.ts'
import { adminSql, stack } from '../helpers/stack.ts'

// The `auth` function under Deno behind the gateway, as a frontend calls it, on the local auth service.

const PASSWORD = 'correct-horse-1'
const db = adminSql()
afterAll(() => db.end())

const functionUrl = (path: string) => `${stack.apiUrl}/functions/v1/auth${path}`

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(functionUrl(path), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

/** A POST on a connection of its own (closed afterwards), as a Response with the server's headers. */
const postOnce = (path: string, body: string) =>
  requestOnce(functionUrl(path), { method: 'POST', headers: { 'content-type': 'application/json' }, body })

const accountsWith = async (email: string) =>
  (await db`select count(*)::int as n from auth.users where lower(email) = lower(${email})`)[0].n

describe('the auth function', () => {
  it('register → login → users/me → refresh → logout, after which the session is refused', async () => {
    const email = newEmail('cycle')
    const registered = await post('/register', { email, password: PASSWORD, full_name: 'Ada Lovelace' })
    expect(registered.status).toBe(201)
    const created = await registered.json()
    expect(created.user).toMatchObject({ email, user_metadata: { full_name: 'Ada Lovelace' } })
    expect(created.session).toMatchObject({ token_type: 'bearer', expires_in: 3600 })

    const loggedIn = await post('/login', { email, password: PASSWORD })
    expect(loggedIn.status).toBe(200)
    const { user, session } = await loggedIn.json()
    expect(user.id).toBe(created.user.id)
    expect(decodeJwt(session.access_token).session_id).not.toBe(
      decodeJwt(created.session.access_token).session_id,
    )

    const me = await fetch(`${stack.apiUrl}/functions/v1/users/me`, {
      headers: { authorization: `Bearer ${session.access_token}` },
    })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ id: user.id, email, full_name: 'Ada Lovelace' })

    const refreshed = await post('/refresh', { refresh_token: session.refresh_token })
    expect(refreshed.status).toBe(200)
    const next = (await refreshed.json()).session
    expect(next.refresh_token).not.toBe(session.refresh_token)

    const out = await post('/logout', {}, { authorization: `Bearer ${next.access_token}` })
    expect(out.status).toBe(204)
    await expectErrorEnvelope(
      await post('/refresh', { refresh_token: next.refresh_token }),
      401,
      'unauthorized',
    )
    // The ended session's access token is refused by Supabase Auth and by every function.
    const gotrue = await fetch(`${stack.apiUrl}/auth/v1/user`, {
      headers: { apikey: stack.anonKey, authorization: `Bearer ${next.access_token}` },
    })
    expect(gotrue.status).toBe(403)
    await expectErrorEnvelope(
      await fetch(`${stack.apiUrl}/functions/v1/users/me`, {
        headers: { authorization: `Bearer ${next.access_token}` },
      }),
      401,
      'unauthorized',
    )
    // logout ended only this session: the one from registering still refreshes.
    expect((await post('/refresh', { refresh_token: created.session.refresh_token })).status).toBe(200)
  })

  it('logout?scope=global ends every session of the user', async () => {
    const email = newEmail('global')
    const first = (await (await post('/register', { email, password: PASSWORD })).json()).session
    const second = (await (await post('/login', { email, password: PASSWORD })).json()).session
    const out = await fetch(functionUrl('/logout?scope=global'), {
      method: 'POST',
      headers: { authorization: `Bearer ${second.access_token}` },
    })
    expect(out.status).toBe(204)
    await expectErrorEnvelope(
      await post('/refresh', { refresh_token: first.refresh_token }),
      401,
      'unauthorized',
    )
  })

  it('answers what Supabase Auth refuses in the envelope', async () => {
    const email = newEmail('taken')
    expect((await post('/register', { email, password: PASSWORD })).status).toBe(201)

    const wrong = await expectErrorEnvelope(
      await post('/login', { email, password: 'not-the-password' }),
      401,
      'invalid_credentials',
    )
    expect(wrong.message).toBe('Invalid email or password')
    await expectErrorEnvelope(
      await post('/login', { email: newEmail('nobody'), password: PASSWORD }),
      401,
      'invalid_credentials',
    )
    await expectErrorEnvelope(
      await post('/register', { email: email.toUpperCase(), password: PASSWORD }),
      409,
      'conflict',
    )

    const weakEmail = newEmail('weak')
    const weak = await expectErrorEnvelope(
      await post('/register', { email: weakEmail, password: '12345' }),
      422,
      'validation_failed',
    )
    expect(weak.details).toEqual([{ path: 'password', message: 'Password is too short' }])
    expect(await accountsWith(weakEmail)).toBe(0)

    await expectErrorEnvelope(await post('/refresh', { refresh_token: 'abcdefghijkl' }), 401, 'unauthorized')
    await expectErrorEnvelope(await post('/refresh', { refresh_token: "' or 1=1 --" }), 401, 'unauthorized')
    await expectErrorEnvelope(await post('/logout', {}), 401, 'unauthorized')
  })

  it('refuses bad input with a 4xx and creates no account', async () => {
    const cases: Array<[string, string | Record<string, unknown>, number, string]> = [
      ['missing fields', {}, 422, 'validation_failed'],
      ['missing password', { email: newEmail() }, 422, 'validation_failed'],
      [
        'an unknown field',
        { email: newEmail(), password: PASSWORD, is_superuser: true },
        422,
        'validation_failed',
      ],
      ['malformed JSON', '{"email": "a@b.test", "password":', 400, 'invalid_json'],
      ['a unicode email', { email: 'jürgen@exämple.test', password: PASSWORD }, 422, 'validation_failed'],
      [
        'a very long email',
        { email: `${'a'.repeat(300)}@example.test`, password: PASSWORD },
        422,
        'validation_failed',
      ],
      [
        'a SQL-looking email',
        { email: "x'); drop table auth.users; --@example.test", password: PASSWORD },
        422,
        'validation_failed',
      ],
      ['a password over 72 bytes', { email: newEmail(), password: 'ü'.repeat(40) }, 422, 'validation_failed'],
    ]
    for (const [name, body, status, code] of cases) {
      await expectErrorEnvelope(await post('/register', body), status, code, { label: name })
    }
    // On its own connection: the function answers before reading the body, so that connection ends.
    const hugeEmail = newEmail()
    const huge = JSON.stringify({ email: hugeEmail, password: PASSWORD, full_name: 'x'.repeat(1 << 20) })
    await expectErrorEnvelope(await postOnce('/register', huge), 413, 'payload_too_large')
    // No account for any address these bodies named (counted by address: other test files sign up
    // users at the same time).
    const emails = [
      hugeEmail,
      ...cases.flatMap(([, body]) =>
        typeof body === 'object' && body !== null && typeof (body as { email?: unknown }).email === 'string'
          ? [String((body as { email: string }).email).toLowerCase()]
          : [],
      ),
    ]
    expect(emails.length).toBeGreaterThan(5)
    const [{ made }] =
      await db`select count(*)::int as made from auth.users where lower(email) = any(${emails})`
    expect(made).toBe(0)

    const sqlPassword = await post('/login', { email: newEmail('nobody'), password: "' OR '1'='1' --" })
    await expectErrorEnvelope(sqlPassword, 401, 'invalid_credentials')
  })

  it('passes on the 429 and Retry-After when Supabase Auth limits the client', async () => {
    // Supabase Auth refuses a client address after many failures (never an email: ADR 0012); this
    // instance after two, so the function runs in process against it instead of the stack's own.
    const limited = await serveGoTrue({ loginLimits: { perAddress: { slowAfter: 100, blockAfter: 2 } } })
    setConfigForTests({ supabaseUrl: limited.url })
    try {
      const login = () =>
        app.request('/auth/login', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: newEmail('guessed'), password: 'wrong-password' }),
        })
      for (let i = 0; i < 2; i++) await expectErrorEnvelope(await login(), 401, 'invalid_credentials')
      const response = await login()
      await expectErrorEnvelope(response.clone(), 429, 'rate_limited')
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0)
    } finally {
      setConfigForTests(undefined)
      await limited.close()
    }
  })

  it('runs in process on Node too (the app tests import)', async () => {
    const email = newEmail('node')
    const request = (path: string, body: unknown) =>
      app.request(`/auth${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    expect((await request('/register', { email, password: PASSWORD })).status).toBe(201)
    const login = await request('/login', { email, password: PASSWORD })
    expect(login.status).toBe(200)
    expect((await login.json()).user.email).toBe(email)
  })
})
