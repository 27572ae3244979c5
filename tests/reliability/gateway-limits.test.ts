import { request } from 'node:http'
import { describe, expect, it } from 'vitest'
import { closerGateways } from './gateway-fixture.ts'
import { RawConnection } from './gateway-raw.ts'

// Issue 12, fault 1: what a client holds of a function through the gateway is bounded in time
// and in number, and ends when the client goes away.

const { logs, startGateway, state } = closerGateways()

/** A GET through the gateway from one loopback address; resolves with its status and body. */
function call(
  port: number,
  path: string,
  localAddress = '127.0.0.1',
  signal?: AbortSignal,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: `/functions/v1/closer/${path}`,
      localAddress,
      signal,
    })
    req.on('response', (res) => {
      let body = ''
      res.on('data', (chunk) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await condition()) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`never happened: ${what}`)
}

describe('a client that goes away', () => {
  it('ends its request to the function at once, instead of leaving it to run', async () => {
    const port = await startGateway()
    const before = (await state()).abandoned
    const controller = new AbortController()
    const pending = call(port, 'slow?ms=5000', '127.0.0.1', controller.signal).catch(() => 'aborted')
    await new Promise((resolve) => setTimeout(resolve, 300))
    controller.abort()
    expect(await pending).toBe('aborted')
    // The function sees its caller leave long before its 5 s are up.
    await until(async () => (await state()).abandoned > before, 'the function saw its caller go')
  })

  it('gives up its place in the queue: the next one waiting gets the connection', async () => {
    const port = await startGateway({ socketsPerFunction: 1, socketsPerClient: 1, queueMs: 5000 })
    const holder = call(port, 'slow?ms=600', '127.0.0.1')
    await new Promise((resolve) => setTimeout(resolve, 100))
    // Waits behind the holder, then leaves; had it kept its place it would hold the one connection
    // for its 3 s after the holder, and the request after it would wait that long.
    const controller = new AbortController()
    const leaving = call(port, 'slow?ms=3000', '127.0.0.1', controller.signal).catch(() => 'aborted')
    await new Promise((resolve) => setTimeout(resolve, 100))
    const next = call(port, 'ping', '127.0.0.1')
    controller.abort()
    expect(await leaving).toBe('aborted')
    const started = Date.now()
    expect((await next).status).toBe(200)
    expect((await holder).status).toBe(200)
    expect(Date.now() - started).toBeLessThan(2500)
  })
})

describe('a request body that stalls', () => {
  it('is answered 408 in the error envelope once it has sent nothing for the body time limit', async () => {
    const port = await startGateway({ bodyIdleMs: 300 })
    const client = await RawConnection.open(port)
    client.write(
      'POST /functions/v1/closer/ping HTTP/1.1\r\nhost: 127.0.0.1\r\nx-request-id: stalled-1\r\n' +
        'content-type: application/json\r\ncontent-length: 100\r\n\r\n{"a":',
    )
    const answer = await client.read()
    expect(answer.status).toBe(408)
    expect(answer.headers.connection).toBe('close')
    expect(JSON.parse(answer.body)).toEqual({
      error: { code: 'request_timeout', message: expect.any(String), request_id: 'stalled-1' },
    })
    expect(logs.some((line) => line.includes('stalled-1') && line.includes('stalled for 300 ms'))).toBe(true)
    client.close()
  })
})

describe("a function's connections", () => {
  it('one client address cannot take them all: another client is answered while it holds its share', async () => {
    const port = await startGateway()
    // 64 requests from 127.0.0.2 take as many connections as the gateway lets one client have.
    let slowDone = 0
    const slow = Array.from({ length: 64 }, () =>
      call(port, 'slow?ms=1500', '127.0.0.2').then((answer) => {
        slowDone++
        return answer
      }),
    )
    await new Promise((resolve) => setTimeout(resolve, 300))
    const other = await call(port, 'ping', '127.0.0.1')
    expect(other.status).toBe(200)
    expect(slowDone).toBe(0)
    expect((await Promise.all(slow)).every((answer) => answer.status === 200)).toBe(true)
  })

  it('a request that waits too long for one is answered 503 in the error envelope', async () => {
    const port = await startGateway({ socketsPerFunction: 4, socketsPerClient: 2, queueMs: 300 })
    const answers = await Promise.all(Array.from({ length: 4 }, () => call(port, 'slow?ms=1000')))
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(2)
    const refused = answers.filter((answer) => answer.status === 503)
    expect(refused).toHaveLength(2)
    for (const answer of refused) {
      expect(JSON.parse(answer.body).error).toMatchObject({
        code: 'function_unavailable',
        message: 'Function closer is busy: no connection to it came free within 300 ms',
      })
    }
  })
})
