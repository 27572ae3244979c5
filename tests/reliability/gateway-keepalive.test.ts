import { describe, expect, it } from 'vitest'
import { FunctionWorker } from '../../scripts/stack/functions/runner.ts'
import { closerGateways } from './gateway-fixture.ts'
import { blockEventLoop, get, RawConnection } from './gateway-raw.ts'

// Issue 15: the gateway reused a kept-alive connection that the function's worker had just
// closed, and the user got a 502. These tests run their own gateway in this process (so they can
// hold its event loop) in front of a real Deno worker running tests/reliability/fixtures.

const { closer, logs, startGateway, state: fixtureState } = closerGateways()
const ping = get('/functions/v1/closer/ping')

describe('a kept-alive connection to a worker', () => {
  it('that the worker closes as the next request goes out: the request is sent again on a new one', async () => {
    const port = await startGateway()
    const client = await RawConnection.open(port)
    client.write(ping)
    const first = await client.read()
    expect(first.status).toBe(200)
    // The gateway now keeps its connection to the worker for the next request. The worker closes
    // it 100 ms from now, while this process (the gateway too) is held: the gateway takes the
    // request already waiting in its socket before it learns that its connection is gone, which
    // is the race of issue 15 made certain.
    const order = await fetch(`http://127.0.0.1:${closer.port}/closer/close-idle?after=100`, {
      method: 'POST',
    })
    expect(order.status).toBe(202)
    client.write(ping)
    blockEventLoop(2000)
    const heldUntil = Date.now()

    const second = await client.read()
    expect(second.status, second.body).toBe(200)
    expect(JSON.parse(second.body).port).not.toBe(JSON.parse(first.body).port)
    expect(logs.some((line) => line.includes('on a reused connection; sent again on a new one'))).toBe(true)
    // The scenario held: the worker had closed its connections while the gateway was held.
    const state = await fixtureState()
    expect(state.closedAt).toBeGreaterThan(0)
    expect(state.closedAt).toBeLessThan(heldUntil)
    client.close()
  })

  it('is dropped by the gateway after its idle timeout, before the worker would drop it', async () => {
    const port = await startGateway({ upstreamIdleMs: 300 })
    const client = await RawConnection.open(port)
    const portOf = async () => {
      client.write(ping)
      const answer = await client.read()
      expect(answer.status).toBe(200)
      return JSON.parse(answer.body).port as number
    }
    const first = await portOf()
    expect(await portOf()).toBe(first)
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(await portOf()).not.toBe(first)
    client.close()
  })
})

describe('a function that does not answer', () => {
  it('gets the client a 502 in the error envelope with a request id, and the gateway logs why', async () => {
    // A worker whose port nothing listens on any more.
    const gone = new FunctionWorker(closer.spec, { env: {}, log: () => {} })
    const deadPort = await gone.whenReady()
    await gone.stop()
    const unreachable = { spec: closer.spec, whenReady: async () => deadPort } as FunctionWorker
    const port = await startGateway({}, new Map([['closer', unreachable]]))

    const response = await fetch(`http://127.0.0.1:${port}/functions/v1/closer/ping`)
    expect(response.status).toBe(502)
    const requestId = response.headers.get('x-request-id')
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/)
    expect(await response.json()).toEqual({
      error: { code: 'bad_gateway', message: 'Function closer did not answer', request_id: requestId },
    })
    expect(logs.some((line) => line.includes(requestId as string) && line.includes('ECONNREFUSED'))).toBe(
      true,
    )

    // The caller's own request id is kept.
    const named = await fetch(`http://127.0.0.1:${port}/functions/v1/closer/ping`, {
      headers: { 'x-request-id': 'client-chosen-id' },
    })
    expect(named.headers.get('x-request-id')).toBe('client-chosen-id')
    expect((await named.json()).error.request_id).toBe('client-chosen-id')
  })
})
