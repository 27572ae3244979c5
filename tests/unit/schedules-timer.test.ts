import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { schedulesCheckInterval, startSchedulesTimer } from '../../scripts/stack/schedules-timer.ts'

// The local stack's timer, against a loopback server standing where the ai function's due check is:
// what it sends, how often, one check at a time, and what it says when the check fails.

interface Received {
  authorization: string | undefined
  body: string
  at: number
}

const servers: Array<{ close(): void }> = []
afterEach(() => {
  for (const server of servers.splice(0)) server.close()
})

async function dueCheckServer(
  answer: (request: IncomingMessage) => { status: number; delayMs?: number; body: unknown },
) {
  const received: Received[] = []
  let inFlight = 0
  let mostAtOnce = 0
  const server = createServer(async (request, response) => {
    inFlight++
    mostAtOnce = Math.max(mostAtOnce, inFlight)
    let body = ''
    for await (const chunk of request) body += chunk
    received.push({ authorization: request.headers.authorization, body, at: Date.now() })
    const { status, delayMs, body: reply } = answer(request)
    if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs))
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(reply))
    inFlight--
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/functions/v1/ai/schedules/due`
  return { url, received, mostAtOnce: () => mostAtOnce }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits (at most 10 s) until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  const end = Date.now() + 10_000
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await sleep(10)
  }
}

describe('the schedules timer', () => {
  it('posts {} with the service key every interval, and logs the runs it started', async () => {
    const server = await dueCheckServer(() => ({
      status: 200,
      body: { runs: [{ schedule_id: 's1', run_id: 'r1', error: null }] },
    }))
    const lines: string[] = []
    const timer = startSchedulesTimer({
      url: server.url,
      serviceRoleKey: 'service-key',
      intervalMs: 50,
      log: (line) => lines.push(line),
    })
    await until(() => server.received.length >= 3)
    await timer.stop()
    const count = server.received.length
    expect(count).toBeGreaterThanOrEqual(3)
    expect(server.received.every((r) => r.authorization === 'Bearer service-key' && r.body === '{}')).toBe(
      true,
    )
    expect(lines).toContain('schedule s1: started run r1')
    await sleep(120)
    expect(server.received.length).toBe(count)
  })

  it('runs one check at a time, and stop() waits for it', async () => {
    const server = await dueCheckServer(() => ({ status: 200, delayMs: 150, body: { runs: [] } }))
    const timer = startSchedulesTimer({ url: server.url, serviceRoleKey: 'k', intervalMs: 20, log: () => {} })
    // Ticks every 20 ms while each check takes 150 ms: the ticks in between are skipped.
    await until(() => server.received.length >= 3)
    await timer.stop()
    expect(server.mostAtOnce()).toBe(1)
  })

  it('says once that the check fails, and again when it works', async () => {
    let status = 401
    const server = await dueCheckServer(() => ({ status, body: { error: { code: 'unauthorized' } } }))
    const lines: string[] = []
    const timer = startSchedulesTimer({
      url: server.url,
      serviceRoleKey: 'k',
      intervalMs: 1000,
      log: (line) => lines.push(line),
    })
    await timer.checkNow()
    await timer.checkNow()
    status = 200
    await timer.checkNow()
    await timer.stop()
    expect(lines.filter((line) => line.startsWith('the due check failed: answered 401'))).toHaveLength(1)
    expect(lines).toContain('the due check works again')
  })

  it('reads SCHEDULES_CHECK_INTERVAL_MS: 0 is off, under a second or not a number is refused', () => {
    const warnings: string[] = []
    const warn = (line: string) => warnings.push(line)
    expect(schedulesCheckInterval(undefined, warn)).toBeUndefined()
    expect(schedulesCheckInterval('', warn)).toBeUndefined()
    expect(schedulesCheckInterval('0', warn)).toBe(0)
    expect(schedulesCheckInterval('30000', warn)).toBe(30_000)
    expect(warnings).toEqual([])
    expect(schedulesCheckInterval('500', warn)).toBeUndefined()
    expect(schedulesCheckInterval('soon', warn)).toBeUndefined()
    expect(warnings).toHaveLength(2)
  })
})
