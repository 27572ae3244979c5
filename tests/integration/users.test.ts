import { SignJWT } from 'jose'
import type postgres from 'postgres'
import { afterAll, describe, expect } from 'vitest'
import { app } from '../../functions/users/app.ts'
import { closeSql } from '../../shared/db/client.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { it } from '../helpers/fixtures.ts'
import { createUser, mintAccessToken, stack, type TestUser } from '../helpers/stack.ts'

const auth = (user: TestUser) => ({ authorization: `Bearer ${user.token}` })

function put(path: string, user: TestUser, body: unknown, headers: Record<string, string> = {}) {
  return app.request(path, {
    method: 'PUT',
    headers: { ...auth(user), 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

const profileRow = async (sql: postgres.Sql, user: TestUser) =>
  (await sql`select * from public.profiles where id = ${user.id}`)[0]

afterAll(() => closeSql())

describe('GET /users/me', () => {
  it('returns the caller’s profile, email from the token', async ({ ada }) => {
    const response = await app.request('/users/me', { headers: auth(ada) })
    expect(response.status).toBe(200)
    const profile = await response.json()
    expect(profile).toEqual({
      id: ada.id,
      email: ada.email,
      full_name: 'ada',
      avatar_url: null,
      is_active: true,
      is_superuser: false,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
      updated_at: expect.stringMatching(/Z$/),
    })
  })

  it('accepts an HS256 token signed with the legacy secret', async ({ bob }) => {
    const now = Math.floor(Date.now() / 1000)
    const token = await new SignJWT({ aud: 'authenticated', role: 'authenticated', email: bob.email })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(bob.id)
      .setExpirationTime(now + 600)
      .sign(new TextEncoder().encode(stack.jwtSecret))
    const response = await app.request('/users/me', { headers: { authorization: `Bearer ${token}` } })
    expect(response.status).toBe(200)
    expect(((await response.json()) as { id: string }).id).toBe(bob.id)
  })

  it('is a 404 for a signed-in user whose profile is gone', async ({ sql }) => {
    const user = await createUser('profileless')
    await sql`delete from public.profiles where id = ${user.id}`
    await expectErrorEnvelope(await app.request('/users/me', { headers: auth(user) }), 404, 'not_found')
  })

  it('refuses the token of a session that has signed out, and changes nothing', async ({ sql }) => {
    const user = await createUser('leaver')
    const signOut = await fetch(`${stack.apiUrl}/auth/v1/logout?scope=local`, {
      method: 'POST',
      headers: { apikey: stack.anonKey, ...auth(user) },
    })
    expect(signOut.status).toBe(204)
    const before = await profileRow(sql, user)
    await expectErrorEnvelope(
      await app.request('/users/me', {
        method: 'PUT',
        headers: { ...auth(user), 'content-type': 'application/json' },
        body: JSON.stringify({ full_name: 'Changed after sign-out' }),
      }),
      401,
      'unauthorized',
    )
    expect(await profileRow(sql, user)).toEqual(before)
  })

  it('refuses a well-signed token that names a session that never existed', async ({ ada }) => {
    const token = await mintAccessToken({ sub: ada.id, email: ada.email })
    await expectErrorEnvelope(
      await app.request('/users/me', { headers: { authorization: `Bearer ${token}` } }),
      401,
      'unauthorized',
    )
  })
})

describe('PUT /users/me', () => {
  it('changes the fields given and keeps the others', async ({ sql, ada }) => {
    const before = await profileRow(sql, ada)
    const response = await put('/users/me', ada, {
      full_name: '  Ada Lovelace ',
      avatar_url: 'https://img.example/ada.png',
    })
    expect(response.status).toBe(200)
    const profile = (await response.json()) as Record<string, unknown>
    expect(profile).toMatchObject({
      id: ada.id,
      full_name: 'Ada Lovelace',
      avatar_url: 'https://img.example/ada.png',
    })
    expect(Date.parse(profile.updated_at as string)).toBeGreaterThanOrEqual(before.updated_at.getTime())

    const again = await put('/users/me', ada, { avatar_url: null })
    expect(await again.json()).toMatchObject({ full_name: 'Ada Lovelace', avatar_url: null })
    expect(await profileRow(sql, ada)).toMatchObject({ full_name: 'Ada Lovelace', avatar_url: null })
  })

  it('answers an empty change with the profile unchanged', async ({ sql, ada }) => {
    const before = await profileRow(sql, ada)
    const response = await put('/users/me', ada, {})
    expect(response.status).toBe(200)
    expect(await profileRow(sql, ada)).toEqual(before)
  })

  it('refuses fields a user may not set, and leaves the row alone', async ({ sql, ada, bob }) => {
    const before = await profileRow(sql, ada)
    for (const body of [
      { is_superuser: true },
      { is_active: false },
      { id: bob.id },
      { full_name: 'x', created_at: '2000-01-01' },
    ]) {
      await expectErrorEnvelope(await put('/users/me', ada, body), 422, 'validation_failed')
    }
    expect(await profileRow(sql, ada)).toEqual(before)
  })

  it('validates the values', async ({ ada }) => {
    const cases = [
      { full_name: '' },
      { full_name: 'x'.repeat(201) },
      { full_name: 42 },
      { avatar_url: 'javascript:alert(1)' },
      { avatar_url: 'not a url' },
      [],
      'a string',
    ]
    for (const body of cases) {
      const response = await put('/users/me', ada, JSON.stringify(body))
      await expectErrorEnvelope(response, 422, 'validation_failed')
    }
  })

  it('reports every problem at once', async ({ ada }) => {
    const response = await put('/users/me', ada, { full_name: '', avatar_url: 'nope' })
    const { error } = (await response.json()) as { error: { details: { path: string }[] } }
    expect(error.details.map((d) => d.path).sort()).toEqual(['avatar_url', 'full_name'])
  })

  it('answers malformed JSON with 400 and another media type with 415', async ({ ada }) => {
    await expectErrorEnvelope(await put('/users/me', ada, '{"full_name": '), 400, 'invalid_json')
    await expectErrorEnvelope(
      await put('/users/me', ada, 'full_name=x', { 'content-type': 'text/plain' }),
      415,
      'unsupported_media_type',
    )
  })

  it('changes only the caller’s profile', async ({ sql, ada, bob }) => {
    const bobBefore = await profileRow(sql, bob)
    await put('/users/me', ada, { full_name: 'Countess' })
    expect(await profileRow(sql, bob)).toEqual(bobBefore)
  })
})

describe('GET and PUT /users/preferences', () => {
  it('starts as an empty object', async ({ bob }) => {
    const response = await app.request('/users/preferences', { headers: auth(bob) })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({})
  })

  it('replaces the whole object and reads it back', async ({ sql, ada }) => {
    const first = { theme: 'dark', notifications: { email: true, digest: ['mon', 'thu'] }, ratio: 0.25 }
    const put1 = await put('/users/preferences', ada, first)
    expect(put1.status).toBe(200)
    expect(await put1.json()).toEqual(first)

    const second = { language: 'fr', emoji: '🗓️ naïve' }
    expect(await (await put('/users/preferences', ada, second)).json()).toEqual(second)
    const read = await app.request('/users/preferences', { headers: auth(ada) })
    expect(await read.json()).toEqual(second)
    expect((await profileRow(sql, ada)).preferences).toEqual(second)
  })

  it('refuses anything but a JSON object', async ({ ada }) => {
    for (const body of ['[]', 'null', '"dark"', '42', 'true']) {
      await expectErrorEnvelope(await put('/users/preferences', ada, body), 422, 'validation_failed')
    }
  })

  it('refuses more than 64 KiB with 422 and more than the body cap with 413', async ({ sql, ada }) => {
    const before = await profileRow(sql, ada)
    await expectErrorEnvelope(
      await put('/users/preferences', ada, { blob: 'x'.repeat(70 * 1024) }),
      422,
      'validation_failed',
    )
    await expectErrorEnvelope(
      await put('/users/preferences', ada, { blob: 'x'.repeat(2 * 1024 * 1024) }),
      413,
      'payload_too_large',
    )
    expect(await profileRow(sql, ada)).toEqual(before)
  })

  it('accepts a document just under 64 KiB', async ({ bob }) => {
    const big = { blob: 'x'.repeat(60 * 1024) }
    const response = await put('/users/preferences', bob, big)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual(big)
  })

  it('answers JSON that Postgres cannot store (a NUL character) with 422, not 500', async ({ ada }) => {
    await expectErrorEnvelope(
      await put('/users/preferences', ada, '{"name": "a\\u0000b"}'),
      422,
      'validation_failed',
    )
  })

  it('answers JSON nested too deeply to store with 422, not 500', async ({ ada }) => {
    const deep = `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`
    await expectErrorEnvelope(await put('/users/preferences', ada, deep), 422, 'validation_failed')
  })
})
