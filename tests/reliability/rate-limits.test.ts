import { decodeJwt } from 'jose'
import { afterAll, afterEach, describe, expect } from 'vitest'
import { app as planning } from '../../functions/planning/app.ts'
import { app as users } from '../../functions/users/app.ts'
import { setConfigForTests } from '../../shared/config.ts'
import { closeSql } from '../../shared/db/client.ts'
import { clearRequestCountLeases } from '../../shared/db/with-user.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { it } from '../helpers/fixtures.ts'
import { createUser, type TestUser } from '../helpers/stack.ts'

// Issue 12, point 9: per user and per address, counted in the database (so every function instance
// sees the same count), answered 429 rate_limited with Retry-After, and nothing of a refused
// request is kept.

afterEach(() => {
  setConfigForTests(undefined)
  clearRequestCountLeases()
})
afterAll(() => closeSql())

const call = (app: typeof users, path: string, user: TestUser, address: string, init: RequestInit = {}) =>
  app.request(path, {
    ...init,
    headers: { authorization: `Bearer ${user.token}`, 'x-forwarded-for': address, ...init.headers },
  })

/** Counts are per minute: a test that counts starts well inside one, or a new window would reset it. */
async function withinOneMinute(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000)
  if (left < 10_000) await new Promise((resolve) => setTimeout(resolve, left + 200))
}

async function expectLimited(response: Response) {
  await expectErrorEnvelope(response, 429, 'rate_limited')
  const retryAfter = Number(response.headers.get('retry-after'))
  expect(retryAfter).toBeGreaterThanOrEqual(1)
  expect(retryAfter).toBeLessThanOrEqual(60)
}

describe('rate limits', () => {
  it('refuse a user’s requests over their limit a minute with 429 and Retry-After, keeping nothing', async ({
    sql,
  }) => {
    setConfigForTests({ rateLimits: { perUserPerMinute: 4, perAddressPerMinute: 0 } })
    const ada = await createUser('limited')
    await withinOneMinute()
    for (let i = 0; i < 3; i++) expect((await call(users, '/users/me', ada, '10.0.0.1')).status).toBe(200)
    // Across functions: the planning function counts against the same user.
    expect((await call(planning, '/planning/goals', ada, '10.0.0.2')).status).toBe(200)
    await expectLimited(await call(users, '/users/me', ada, '10.0.0.3'))
    const write = await call(users, '/users/me', ada, '10.0.0.4', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ full_name: 'Over the limit' }),
    })
    await expectLimited(write)
    const [profile] = await sql`select full_name from public.profiles where id = ${ada.id}`
    expect(profile.full_name).toBe('limited')
    const [counted] = await sql`select count from private.request_counts where key = ${`user:${ada.id}`}`
    expect(counted.count).toBe(4)
    // Another user is not held back by ada's requests.
    const bob = await createUser('unlimited')
    expect((await call(users, '/users/me', bob, '10.0.0.5')).status).toBe(200)
  })

  it('refuse an address’s requests over its limit, whichever user signs them', async () => {
    setConfigForTests({ rateLimits: { perUserPerMinute: 0, perAddressPerMinute: 3 } })
    const address = `10.9.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`
    const [first, second] = [await createUser('addr-a'), await createUser('addr-b')]
    await withinOneMinute()
    expect((await call(users, '/users/me', first, address)).status).toBe(200)
    expect((await call(users, '/users/me', second, address)).status).toBe(200)
    expect((await call(users, '/users/me', first, `${address}, 192.0.2.1`)).status).toBe(200)
    await expectLimited(await call(users, '/users/me', second, address))
    expect((await call(users, '/users/me', second, '10.8.0.1')).status).toBe(200)
  })

  it('are counted a few at a time under a high limit, and never let more through than the limit', async ({
    sql,
  }) => {
    // A limit of 200 a minute: counts are taken two at a time (ADR 0038).
    setConfigForTests({ rateLimits: { perUserPerMinute: 200, perAddressPerMinute: 0 } })
    const ada = await createUser('leased')
    await withinOneMinute()
    const counted = async () =>
      (await sql`select count from private.request_counts where key = ${`user:${ada.id}`}`)[0]?.count
    for (let i = 0; i < 5; i++) expect((await call(users, '/users/me', ada, '10.0.1.1')).status).toBe(200)
    // Three writes of two: the sixth count is the lease this instance still holds.
    expect(await counted()).toBe(6)
    const statuses: number[] = []
    for (let i = 5; i < 201; i++) statuses.push((await call(users, '/users/me', ada, '10.0.1.1')).status)
    expect(statuses.filter((status) => status === 200)).toHaveLength(195)
    expect(statuses.at(-1)).toBe(429)
    expect(await counted()).toBe(200)
  })

  it('lose no counts to requests in parallel: each adds what it took ahead to the lease', async ({ sql }) => {
    // 1000 a minute: counts are taken ten at a time.
    setConfigForTests({ rateLimits: { perUserPerMinute: 1000, perAddressPerMinute: 0 } })
    const ada = await createUser('leased-parallel')
    await withinOneMinute()
    const statuses: number[] = []
    // 8 at a time, 1050 in all: had a lease replaced another, counts taken ahead would be lost and
    // the user refused well before 1000.
    let next = 0
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 1050) {
          next++
          statuses.push((await call(users, '/users/me', ada, '10.0.1.3')).status)
        }
      }),
    )
    const served = statuses.filter((status) => status === 200).length
    expect(served).toBeLessThanOrEqual(1000)
    expect(served).toBeGreaterThanOrEqual(990)
    const [row] = await sql`select count from private.request_counts where key = ${`user:${ada.id}`}`
    expect(row.count).toBe(1000)
  })

  it('check the session on every request, also one served without counting', async ({ sql }) => {
    setConfigForTests({ rateLimits: { perUserPerMinute: 1000, perAddressPerMinute: 0 } })
    const ada = await createUser('leased-signed-out')
    await withinOneMinute()
    expect((await call(users, '/users/me', ada, '10.0.1.2')).status).toBe(200)
    expect((await call(users, '/users/me', ada, '10.0.1.2')).status).toBe(200)
    const [row] = await sql`select count from private.request_counts where key = ${`user:${ada.id}`}`
    expect(row.count).toBe(10)
    await sql`delete from auth.sessions where id = ${decodeJwt(ada.token).session_id as string}`
    await expectErrorEnvelope(await call(users, '/users/me', ada, '10.0.1.2'), 401, 'unauthorized')
  })

  it('are documented in every authenticated route of the OpenAPI documents', async () => {
    for (const [name, app] of [
      ['users', users],
      ['planning', planning],
    ] as const) {
      const doc = (await (await app.request(`/${name}/openapi.json`)).json()) as {
        paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>
      }
      for (const [path, operations] of Object.entries(doc.paths)) {
        for (const [method, operation] of Object.entries(operations)) {
          if (operation.security) expect(operation.responses, `${method} ${path}`).toHaveProperty('429')
        }
      }
    }
  })
})
