import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import type postgres from 'postgres'
import { describe, expect } from 'vitest'
import { expectErrorEnvelope } from './envelope.ts'
import { test } from './fixtures.ts'
import { createUser, mintAccessToken, stack, type TestUser } from './stack.ts'

/** What the suite needs of a function: its in-process app (or anything with the same `request`). */
export interface RequestTarget {
  request(path: string, init?: RequestInit): Response | Promise<Response>
}

export interface SecuritySuiteOptions {
  /** The function's name, its base path. */
  name: string
  app: RequestTarget
  /** Routes anyone may call, as 'METHOD /path' (e.g. 'POST /auth/login'); a route without `security` in the spec must be listed. */
  publicRoutes?: string[]
  /**
   * Routes the platform calls with the service key, not a user ('POST /ai/schedules/due'): they
   * declare the `serviceKey` scheme, and every bad token and every user's own token gets 401.
   */
  serviceRoutes?: string[]
  /**
   * For every route with path parameters, keyed by its path template as the OpenAPI document
   * spells it ('/notes/{id}'): makes a row owned by `owner` and returns the parameters naming it.
   */
  fixtures?: Record<string, (owner: TestUser, sql: postgres.Sql) => Promise<Record<string, string>>>
  /**
   * A valid body per route ('PUT /users/me'), one that would change the victim's data if it got
   * through (and that passes validation, so the another-user check reaches the handler).
   */
  bodies?: Record<string, unknown>
}

/** Per route template, the path parameters naming the victim's row. */
type Params = Record<string, Record<string, string>>

interface Route {
  method: string
  template: string
  secured: boolean
  /** Declares the service key scheme. */
  serviceKeyed: boolean
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { security?: Record<string, unknown>[] }>>
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete']
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

async function routesOf(options: SecuritySuiteOptions): Promise<Route[]> {
  const response = await options.app.request(`/${options.name}/openapi.json`)
  const doc = (await response.json()) as OpenApiDocument
  return Object.entries(doc.paths).flatMap(([template, operations]) =>
    Object.entries(operations)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({
        method: method.toUpperCase(),
        template,
        secured: (operation.security ?? []).some((requirement) => 'bearerAuth' in requirement),
        serviceKeyed: (operation.security ?? []).some((requirement) => 'serviceKey' in requirement),
      })),
  )
}

/** The tokens an attacker might try for `victim`; every one must be refused with 401. */
async function badTokens(victim: TestUser, attacker: TestUser): Promise<Record<string, string | undefined>> {
  const signingJwk = JSON.parse(stack.signingKeyJwk) as JWK
  const now = Math.floor(Date.now() / 1000)
  const claims = {
    sub: victim.id,
    aud: 'authenticated',
    role: 'authenticated',
    email: victim.email,
    exp: now + 3600,
  }
  const [attackerHeader, , attackerSignature] = attacker.token.split('.')
  const stranger = await generateKeyPair('ES256', { extractable: true })
  const strangerJwk = await exportJWK(stranger.privateKey)
  const hs256 = (secret: string, payload: Record<string, unknown> = claims) =>
    new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode(secret))
  return {
    'no token': undefined,
    'a malformed token': 'Bearer not.a-jwt',
    'another scheme': `Basic ${Buffer.from(`${victim.email}:password`).toString('base64')}`,
    'an expired token': `Bearer ${await mintAccessToken({ sub: victim.id, email: victim.email, expiresIn: -60 })}`,
    'a forged signature': `Bearer ${attackerHeader}.${b64(claims)}.${attackerSignature}`,
    'alg none': `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
    'HS256 signed with a wrong secret': `Bearer ${await hs256('a-wrong-secret-that-is-also-at-least-32-chars')}`,
    'a key not in the JWKS under its kid': `Bearer ${await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: signingJwk.kid, typ: 'JWT' })
      .sign(stranger.privateKey)}`,
    'an embedded key (jwk header)': `Bearer ${await new SignJWT(claims)
      .setProtectedHeader({
        alg: 'ES256',
        jwk: { kty: strangerJwk.kty, crv: strangerJwk.crv, x: strangerJwk.x, y: strangerJwk.y },
      })
      .sign(stranger.privateKey)}`,
    'the anon API key': `Bearer ${stack.anonKey}`,
    'the service_role API key': `Bearer ${stack.serviceRoleKey}`,
    'a token for another audience': `Bearer ${await mintAccessToken({ sub: victim.id, claims: { aud: 'anon' } })}`,
  }
}

/**
 * Every row of `user` in every public table (by `user_id`, or `id` for profiles), as one string:
 * equal before and after means the requests changed nothing of theirs.
 */
async function footprint(sql: postgres.Sql, user: TestUser): Promise<string> {
  const tables = await sql<{ table_name: string; column_name: string }[]>`
    select table_name, column_name from information_schema.columns
    where table_schema = 'public' and (column_name = 'user_id' or (table_name = 'profiles' and column_name = 'id'))
    order by table_name`
  const parts: string[] = []
  for (const { table_name, column_name } of tables) {
    const [row] = await sql`
      select ${table_name}::text as t, count(*)::int as n,
             coalesce(md5(string_agg(x::text, '|' order by x::text)), '') as digest
      from ${sql('public')}.${sql(table_name)} x where ${sql(column_name)} = ${user.id}`
    parts.push(`${row.t}:${row.n}:${row.digest}`)
  }
  return parts.join('\n')
}

const fill = (template: string, params: Record<string, string>) =>
  template.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? crypto.randomUUID())

/**
 * The shared security suite: reads the function's OpenAPI document and, for every route, checks
 * that bad tokens get 401 and another user's rows 404 (always the envelope), and that none of it
 * changed the victim's data. Call at the top level of a test file: `await securitySuite({...})`.
 */
export async function securitySuite(options: SecuritySuiteOptions): Promise<void> {
  const routes = await routesOf(options)
  const publicRoutes = new Set([
    `GET /${options.name}/health`,
    `GET /${options.name}/openapi.json`,
    ...(options.publicRoutes ?? []),
  ])
  const key = (route: Route) => `${route.method} ${route.template}`
  const serviceRoutes = new Set(options.serviceRoutes ?? [])
  const forService = routes.filter((route) => serviceRoutes.has(key(route)))
  const secured = routes.filter((route) => !publicRoutes.has(key(route)) && !serviceRoutes.has(key(route)))

  // The victim, a row of theirs for every route with an id, and the tokens an attacker tries: made
  // once, for the suite's first test that needs them.
  const it = test
    .extend('victim', { scope: 'file' }, () => createUser('victim'))
    .extend('attacker', { scope: 'file' }, () => createUser('attacker'))
    .extend('tokens', { scope: 'file' }, ({ victim, attacker }) => badTokens(victim, attacker))
    .extend('params', { scope: 'file' }, async ({ sql, victim }) => {
      const params: Params = {}
      for (const route of secured) {
        const fixture = options.fixtures?.[route.template]
        if (fixture && !params[route.template]) params[route.template] = await fixture(victim, sql)
      }
      return params
    })
    // Every row of the victim's as one string, to compare before and after a test's requests.
    .extend('victimRows', ({ sql, victim }) => {
      return () => footprint(sql, victim)
    })
    .extend('send', ({ params }) => (route: Route, authorization: string | undefined) => {
      const body = options.bodies?.[`${route.method} ${route.template}`]
      const hasBody = !['GET', 'DELETE'].includes(route.method)
      return options.app.request(fill(route.template, params[route.template] ?? {}), {
        method: route.method,
        headers: {
          ...(authorization ? { authorization } : {}),
          ...(hasBody ? { 'content-type': 'application/json' } : {}),
        },
        body: hasBody ? JSON.stringify(body ?? {}) : undefined,
      })
    })

  describe(`security: ${options.name}`, () => {
    it('every route that is not public declares the bearer security scheme', () => {
      expect(
        routes
          .filter(
            (route) => !route.secured && !publicRoutes.has(key(route)) && !serviceRoutes.has(key(route)),
          )
          .map(key),
      ).toEqual([])
    })

    it('every service route declares the service key scheme and no other, and exists', () => {
      expect(forService.map(key).sort()).toEqual([...serviceRoutes].sort())
      expect(forService.filter((route) => route.secured || !route.serviceKeyed).map(key)).toEqual([])
      expect(routes.filter((route) => route.serviceKeyed && !serviceRoutes.has(key(route))).map(key)).toEqual(
        [],
      )
    })

    if (forService.length > 0) {
      describe.each(forService.map((route) => [key(route), route] as const))('%s', (_, route) => {
        it('refuses every bad token and every user’s own token with 401 unauthorized, and changes nothing', async ({
          victimRows,
          send,
          tokens,
          victim,
          attacker,
        }) => {
          const before = await victimRows()
          const { 'the service_role API key': _serviceKey, ...refused } = tokens
          for (const [name, authorization] of Object.entries({
            ...refused,
            'the victim’s own access token': `Bearer ${victim.token}`,
            'another user’s access token': `Bearer ${attacker.token}`,
          })) {
            await expectErrorEnvelope(await send(route, authorization), 401, 'unauthorized', { label: name })
          }
          expect(await victimRows()).toBe(before)
        })
      })
    }

    it('every route with path parameters has a fixture for the another-user check', () => {
      const missing = secured.filter(
        (route) => route.template.includes('{') && !options.fixtures?.[route.template],
      )
      expect(missing.map(key)).toEqual([])
    })

    describe.each(secured.map((route) => [key(route), route] as const))('%s', (_, route) => {
      it('refuses every bad token with 401 unauthorized and changes nothing', async ({
        victimRows,
        send,
        tokens,
      }) => {
        const before = await victimRows()
        for (const [name, authorization] of Object.entries(tokens)) {
          const response = await send(route, authorization)
          await expectErrorEnvelope(response, 401, 'unauthorized', { label: name })
        }
        expect(await victimRows()).toBe(before)
      })

      if (route.template.includes('{')) {
        it('answers another user’s row with 404 not_found and changes nothing', async ({
          victimRows,
          send,
          attacker,
        }) => {
          const before = await victimRows()
          await expectErrorEnvelope(await send(route, `Bearer ${attacker.token}`), 404, 'not_found')
          expect(await victimRows()).toBe(before)
        })
      } else if (route.method === 'GET') {
        it('never shows another user’s data', async ({ send, victim, attacker, params }) => {
          const response = await send(route, `Bearer ${attacker.token}`)
          const text = await response.text()
          expect(text).not.toContain(victim.id)
          for (const value of Object.values(params).flatMap(Object.values)) expect(text).not.toContain(value)
        })
      } else {
        it('changes nothing of another user’s when a signed-in user calls it', async ({
          victimRows,
          send,
          attacker,
        }) => {
          const before = await victimRows()
          await send(route, `Bearer ${attacker.token}`)
          expect(await victimRows()).toBe(before)
        })
      }
    })
  })
}
