import { createRoute, z } from '@hono/zod-openapi'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { setConfigForTests } from '../../shared/config.ts'
import { createApp, jsonDepth, MAX_JSON_DEPTH } from '../../shared/http/app.ts'
import { ConflictError, NotFoundError } from '../../shared/core/errors.ts'
import { errorResponses } from '../../shared/http/openapi.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'

const ThingSchema = z.object({ name: z.string().min(1), size: z.number().int().max(10) })

/** A function with one JSON route and a few that fail on purpose. */
function testApp() {
  const app = createApp('things', { maxBodyBytes: 1024 })
  app.openapi(
    createRoute({
      method: 'post',
      path: '/items',
      request: {
        query: z.object({ dry: z.enum(['yes', 'no']).optional() }),
        body: { required: true, content: { 'application/json': { schema: ThingSchema } } },
      },
      responses: {
        201: { description: 'created', content: { 'application/json': { schema: ThingSchema } } },
        ...errorResponses,
      },
    }),
    (c) => c.json(c.req.valid('json'), 201),
  )
  app.get('/missing', () => {
    throw new NotFoundError('No such thing')
  })
  app.get('/taken', () => {
    throw new ConflictError()
  })
  app.get('/crash', () => {
    throw new Error('select secret from vault -- connection string postgres://u:p@db')
  })
  return app
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
})

afterEach(() => {
  setConfigForTests(undefined)
  vi.restoreAllMocks()
})

describe('createApp', () => {
  it('answers /<name>/health', async () => {
    const response = await testApp().request('/things/health')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok' })
  })

  it('serves an OpenAPI 3.1 document with the base path and the bearer scheme', async () => {
    const response = await testApp().request('/things/openapi.json')
    const doc = (await response.json()) as {
      openapi: string
      paths: Record<string, Record<string, unknown>>
      components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> }
    }
    expect(doc.openapi).toBe('3.1.0')
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/things/items', '/things/health']))
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' })
    expect(doc.components.schemas.Error).toBeDefined()
    expect(Object.keys(doc.paths['/things/items'].post as object)).toContain('requestBody')
  })

  it('passes a valid request through', async () => {
    const response = await testApp().request('/things/items', json({ name: 'cup', size: 3 }))
    expect(response.status).toBe(201)
    expect(await response.json()).toEqual({ name: 'cup', size: 3 })
  })

  it('answers validation failures with 422 and one detail per problem', async () => {
    const response = await testApp().request('/things/items?dry=maybe', json({ name: '', size: 11.5 }))
    const error = await expectErrorEnvelope(response, 422, 'validation_failed')
    expect(error.details).toEqual(expect.arrayContaining([{ path: 'dry', message: expect.any(String) }]))
    const body = await testApp().request('/things/items', json({ name: '', size: 11.5 }))
    const details = (await expectErrorEnvelope(body, 422, 'validation_failed')).details as { path: string }[]
    expect(new Set(details.map((d) => d.path))).toEqual(new Set(['name', 'size']))
  })

  it('answers a body that is not JSON with 400 invalid_json', async () => {
    await expectErrorEnvelope(
      await testApp().request('/things/items', json('{"name": "cup",')),
      400,
      'invalid_json',
    )
    await expectErrorEnvelope(await testApp().request('/things/items', json('')), 400, 'invalid_json')
  })

  it('answers a body that is JSON but not an object with 422', async () => {
    await expectErrorEnvelope(
      await testApp().request('/things/items', json('[1,2]')),
      422,
      'validation_failed',
    )
    await expectErrorEnvelope(
      await testApp().request('/things/items', json('null')),
      422,
      'validation_failed',
    )
  })

  it('answers another media type with 415', async () => {
    const request = {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{"name":"cup","size":1}',
    }
    await expectErrorEnvelope(
      await testApp().request('/things/items', request),
      415,
      'unsupported_media_type',
    )
    const untyped = new Request('http://x/things/items', {
      method: 'POST',
      body: new Blob(['{"name":"cup"}']),
    })
    await expectErrorEnvelope(await testApp().request(untyped), 415, 'unsupported_media_type')
  })

  it('answers a body over the cap with 413, declared or streamed', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(2000), size: 1 })
    await expectErrorEnvelope(await testApp().request('/things/items', json(big)), 413, 'payload_too_large')
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big))
        controller.close()
      },
    })
    const streamed = new Request('http://x/things/items', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit)
    await expectErrorEnvelope(await testApp().request(streamed), 413, 'payload_too_large')
  })

  it('answers an unknown path with 404 and a known path with another method with 405', async () => {
    await expectErrorEnvelope(await testApp().request('/things/nowhere'), 404, 'not_found')
    await expectErrorEnvelope(await testApp().request('/elsewhere'), 404, 'not_found')
    const response = await testApp().request('/things/items', { method: 'DELETE' })
    await expectErrorEnvelope(response, 405, 'method_not_allowed')
    expect(response.headers.get('allow')).toContain('POST')
  })

  it('maps domain errors to their status', async () => {
    expect(
      (await expectErrorEnvelope(await testApp().request('/things/missing'), 404, 'not_found')).message,
    ).toBe('No such thing')
    await expectErrorEnvelope(await testApp().request('/things/taken'), 409, 'conflict')
  })

  it('answers an unexpected failure with 500 internal, logging it but telling the client nothing', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {})
    const response = await testApp().request('/things/crash')
    const error = await expectErrorEnvelope(response, 500, 'internal')
    expect(JSON.stringify(error)).not.toMatch(/secret|postgres|select/)
    expect(log).toHaveBeenCalledOnce()
    expect(String(log.mock.calls[0][0])).toContain(error.request_id as string)
  })

  it('keeps a sane incoming x-request-id and replaces an insane one', async () => {
    const kept = await testApp().request('/things/health', { headers: { 'x-request-id': 'gw-123.abc' } })
    expect(kept.headers.get('x-request-id')).toBe('gw-123.abc')
    const replaced = await testApp().request('/things/nowhere', {
      headers: { 'x-request-id': 'a b<script>' },
    })
    const error = await expectErrorEnvelope(replaced, 404, 'not_found')
    expect(error.request_id).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('allows only the configured origins', async () => {
    setConfigForTests({ corsOrigins: ['https://app.example'] })
    const preflight = (origin: string) =>
      testApp().request('/things/items', {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization',
        },
      })
    const allowed = await preflight('https://app.example')
    expect(allowed.status).toBe(204)
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/Authorization/)
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull()

    const failed = await testApp().request('/things/missing', { headers: { origin: 'https://app.example' } })
    expect(failed.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(failed.headers.get('access-control-expose-headers')).toMatch(/x-request-id/)
  })

  it('refuses JSON nested deeper than the limit with 422 before parsing it', async () => {
    const deep = `{"name":"cup","size":1,"x":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}`
    await expectErrorEnvelope(await testApp().request('/things/items', json(deep)), 422, 'validation_failed')
  })
})

describe('jsonDepth', () => {
  it('counts nesting outside strings only', () => {
    expect(jsonDepth('1')).toBe(0)
    expect(jsonDepth('{"a":[1,{"b":[]}]}')).toBe(4)
    expect(jsonDepth('{"a":"[[[{{{"}')).toBe(1)
    expect(jsonDepth('{"a":"\\"","b":"\\\\","c":[[]]}')).toBe(3)
  })
})
