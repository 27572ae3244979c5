import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createUser, stack, type TestUser } from '../helpers/stack.ts'
import { get, RawConnection } from './gateway-raw.ts'

// Issue 12, fault 1, against the test run's own stack: clients that drop or stall mid-upload must
// cost the functions nothing, and request heads the gateway will not take are answered in the
// error envelope.

const gatewayPort = Number(new URL(stack.apiUrl).port)
const open: RawConnection[] = []
let user: TestUser

beforeAll(async () => {
  user = await createUser('hardening')
})
afterAll(() => {
  for (const connection of open) connection.close()
})

async function connection(): Promise<RawConnection> {
  const raw = await RawConnection.open(gatewayPort)
  open.push(raw)
  return raw
}

/** Answers within 5 s, or the function is taken for stuck. */
function call(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${stack.apiUrl}/functions/v1/${path}`, { ...init, signal: AbortSignal.timeout(5_000) })
}

function expectEnvelope(body: string, code: string, requestId?: string): void {
  const parsed = JSON.parse(body)
  expect(parsed.error.code).toBe(code)
  expect(typeof parsed.error.message).toBe('string')
  expect(parsed.error.request_id).toMatch(/^[0-9a-f-]{36}$/)
  if (requestId) expect(parsed.error.request_id).toBe(requestId)
}

describe('aborted uploads', () => {
  it('64 clients that send one byte of a 10-byte POST and hang up leave planning answering', async () => {
    const clients = await Promise.all(Array.from({ length: 64 }, connection))
    for (const client of clients) {
      client.write(
        'POST /functions/v1/planning/goals HTTP/1.1\r\nhost: 127.0.0.1\r\n' +
          'content-type: application/json\r\ncontent-length: 10\r\n\r\n{',
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
    for (const client of clients) client.close()

    for (let i = 0; i < 3; i++) expect((await call('planning/health')).status).toBe(200)
    const goals = await call('planning/goals', { headers: { authorization: `Bearer ${user.token}` } })
    expect(goals.status).toBe(200)
    const created = await call('planning/goals', {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Still answering', timeframe: 'weekly' }),
    })
    expect(created.status).toBe(201)
  })

  it('80 slow PUT bodies to users leave users answering while they trickle in', async () => {
    const clients = await Promise.all(Array.from({ length: 80 }, connection))
    for (const client of clients) {
      client.write(
        `PUT /functions/v1/users/me HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${user.token}\r\n` +
          'content-type: application/json\r\ncontent-length: 1000\r\n\r\n{"full_name": "',
      )
    }
    const trickle = setInterval(() => {
      for (const client of clients) client.write('a')
    }, 100)
    try {
      await new Promise((resolve) => setTimeout(resolve, 300))
      for (let i = 0; i < 3; i++) {
        const me = await call('users/me', { headers: { authorization: `Bearer ${user.token}` } })
        expect(me.status).toBe(200)
      }
      expect(clients.every((client) => !client.closed)).toBe(true)
    } finally {
      clearInterval(trickle)
      for (const client of clients) client.close()
    }
    expect((await call('users/health')).status).toBe(200)
  })
})

describe('request heads the gateway will not take', () => {
  it('16 KiB of headers: 431 in the error envelope, then the connection closes', async () => {
    const client = await connection()
    client.write(get('/functions/v1/users/health', { 'x-padding': 'a'.repeat(16 * 1024) }))
    const answer = await client.read()
    expect(answer.status).toBe(431)
    expect(answer.headers['content-type']).toBe('application/json')
    expectEnvelope(answer.body, 'request_headers_too_large')
  })

  it('120 header fields: 431 in the error envelope with the request id', async () => {
    const client = await connection()
    const headers: Record<string, string> = { 'x-request-id': 'many-headers-1' }
    for (let i = 0; i < 120; i++) headers[`x-field-${i}`] = 'v'
    client.write(get('/functions/v1/users/health', headers))
    const answer = await client.read()
    expect(answer.status).toBe(431)
    expect(answer.headers['x-request-id']).toBe('many-headers-1')
    expect(JSON.parse(answer.body).error).toMatchObject({
      code: 'request_headers_too_large',
      request_id: 'many-headers-1',
    })
  })

  it('a request line that is not HTTP: 400 in the error envelope', async () => {
    const client = await connection()
    client.write('HELLO\r\n\r\n')
    const answer = await client.read()
    expect(answer.status).toBe(400)
    expectEnvelope(answer.body, 'bad_request')
  })

  it('99 header fields still reach the function', async () => {
    const headers: Record<string, string> = {}
    for (let i = 0; i < 98; i++) headers[`x-field-${i}`] = 'v'
    const client = await connection()
    client.write(get('/functions/v1/users/health', headers))
    expect((await client.read()).status).toBe(200)
  })
})
