import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { authClient, newEmail } from '../helpers/gotrue.ts'
import { securitySuite } from '../helpers/security.ts'
import { adminSql, stack } from '../helpers/stack.ts'

// The users function as a frontend reaches it: supabase-js signs up through the local auth service,
// then calls the function through the gateway, where it runs under Deno as on the edge runtime.

const functionsUrl = `${stack.apiUrl}/functions/v1`
const db = adminSql()
let client: ReturnType<typeof authClient>
let userId: string
let email: string

beforeAll(async () => {
  email = newEmail('users-e2e')
  client = authClient(stack.apiUrl)
  const { data, error } = await client.auth.signUp({
    email,
    password: 'correct-horse-1',
    options: { data: { full_name: 'Grace Hopper' } },
  })
  expect(error).toBeNull()
  userId = data.user?.id as string
})

afterAll(() => db.end())

describe('users over HTTP with supabase-js', () => {
  it('GET users/me returns the profile made at signup', async () => {
    const { data, error } = await client.functions.invoke('users/me', { method: 'GET' })
    expect(error).toBeNull()
    expect(data).toMatchObject({
      id: userId,
      email,
      full_name: 'Grace Hopper',
      is_active: true,
      is_superuser: false,
    })
  })

  it('PUT users/me and users/preferences change the user’s row', async () => {
    const me = await client.functions.invoke('users/me', {
      method: 'PUT',
      body: { full_name: 'Rear Admiral Hopper' },
    })
    expect(me.error).toBeNull()
    expect(me.data).toMatchObject({ full_name: 'Rear Admiral Hopper' })

    const preferences = { theme: 'dark', week_starts_on: 'monday' }
    const put = await client.functions.invoke('users/preferences', { method: 'PUT', body: preferences })
    expect(put.data).toEqual(preferences)
    const get = await client.functions.invoke('users/preferences', { method: 'GET' })
    expect(get.data).toEqual(preferences)
    const [row] = await db`select full_name, preferences from public.profiles where id = ${userId}`
    expect(row).toEqual({ full_name: 'Rear Admiral Hopper', preferences })
  })

  it('answers errors with the envelope, the request id and CORS headers', async () => {
    const { data: session } = await client.auth.getSession()
    const response = await fetch(`${functionsUrl}/users/preferences`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${session.session?.access_token}`,
        'content-type': 'application/json',
        origin: 'http://localhost:5173',
      },
      body: '["not", "an", "object"]',
    })
    await expectErrorEnvelope(response, 422, 'validation_failed')
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:5173')
  })

  it('serves health and the OpenAPI document', async () => {
    expect(await (await fetch(`${functionsUrl}/users/health`)).json()).toEqual({ status: 'ok' })
    const doc = (await (await fetch(`${functionsUrl}/users/openapi.json`)).json()) as { paths: object }
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/users/me', '/users/preferences']))
  })
})

await securitySuite({
  name: 'users',
  app: { request: (path, init) => fetch(`${functionsUrl}${path}`, init) },
  bodies: {
    'PUT /users/me': { full_name: 'pwned' },
    'PUT /users/preferences': { pwned: true },
  },
})
