import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { FunctionWorker } from '../scripts/stack/functions/runner.ts'
import { createGateway, listen } from '../scripts/stack/gateway.ts'
import { startStack } from '../scripts/stack/index.ts'
import { CLOSER_ENTRYPOINT } from '../tests/reliability/gateway-fixture.ts'
import { signUp } from './lib.ts'

// The soak of issue 15: bursts of requests through the gateway with pauses between them around
// the moment a kept-alive connection to the worker goes away, counting the 502s.
//   users:  GET users/me on the local stack, pausing around the gateway's 4 s idle timeout (the
//           Deno worker itself keeps idle connections open: measured, > 200 s);
//   closer: GET closer/ping on a worker (tests/reliability/fixtures) that closes its kept-alive
//           connections every --close-every ms, pausing around that period.
// npx tsx bench/soak-keepalive.ts [--runs 20] [--bursts 6] [--burst 40] [--concurrency 8]
//                                 [--pause-ms 4000] [--close-every 1000] [--only users,closer]

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    bursts: { type: 'string', default: '6' },
    burst: { type: 'string', default: '40' },
    concurrency: { type: 'string', default: '8' },
    'pause-ms': { type: 'string', default: '4000' },
    'close-every': { type: 'string', default: '1000' },
    only: { type: 'string', default: 'users,closer' },
  },
})
const runs = Number(values.runs)
const bursts = Number(values.bursts)
const burst = Number(values.burst)
const concurrency = Number(values.concurrency)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Tally {
  requests: number
  bad: number
  statuses: Map<number, number>
}

/** `bursts` bursts of `burst` requests, `concurrency` at a time, each after a pause of about `pauseMs`. */
async function run(url: string, headers: Record<string, string>, pauseMs: number): Promise<Tally> {
  const tally: Tally = { requests: 0, bad: 0, statuses: new Map() }
  for (let b = 0; b < bursts; b++) {
    // Uniformly within ±25% of the pause: some land just before the idle close, some just after.
    await sleep(pauseMs * (0.75 + Math.random() / 2))
    let next = 0
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < burst) {
          const status = await fetch(url, { headers })
            .then(async (response) => {
              await response.arrayBuffer()
              return response.status
            })
            .catch(() => 0)
          tally.requests++
          tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1)
          if (status !== 200) tally.bad++
        }
      }),
    )
  }
  return tally
}

async function soak(name: string, url: string, headers: Record<string, string>, pauseMs: number) {
  const started = performance.now()
  const rows = []
  let requests = 0
  let status502 = 0
  let other = 0
  for (let i = 0; i < runs; i++) {
    const tally = await run(url, headers, pauseMs)
    const bad502 = tally.statuses.get(502) ?? 0
    requests += tally.requests
    status502 += bad502
    other += tally.bad - bad502
    rows.push({ run: i + 1, requests: tally.requests, '502': bad502, 'other non-200': tally.bad - bad502 })
  }
  console.log(`\n${name}: ${url.replace(/^http:\/\/[^/]+/, '')}, pauses around ${pauseMs} ms`)
  console.table(rows)
  console.log(
    `${name}: ${runs} runs, ${requests} requests, ${status502} answered 502, ${other} other failures ` +
      `(${((performance.now() - started) / 1000).toFixed(0)} s)`,
  )
}

const only = values.only.split(',')
const stack = await startStack({ port: 0, dbPort: 0, knowledgeDrainIntervalMs: 0, log: () => {} })
const logs: string[] = []
try {
  if (only.includes('users')) {
    const session = await signUp(stack, `soak-${crypto.randomUUID()}@example.test`, 'soak-password')
    await soak(
      'users',
      `${stack.apiUrl}/functions/v1/users/me`,
      { authorization: `Bearer ${session.access_token}` },
      Number(values['pause-ms']),
    )
  }
  if (only.includes('closer')) {
    const closer = new FunctionWorker(
      { name: 'closer', entrypoint: CLOSER_ENTRYPOINT, verifyJwt: false },
      { env: {}, log: () => {} },
    )
    const workerPort = await closer.whenReady()
    const gateway = createGateway({
      host: '127.0.0.1',
      port: 0,
      keys: stack.keys,
      functions: new Map([['closer', closer]]),
      log: (_, line) => logs.push(line),
    })
    const port = await listen(gateway, 0, '127.0.0.1', 'soak gateway')
    const every = Number(values['close-every'])
    await fetch(`http://127.0.0.1:${workerPort}/closer/close-idle?every=${every}`, { method: 'POST' })
    try {
      await soak('closer', `http://127.0.0.1:${port}/functions/v1/closer/ping`, {}, every)
    } finally {
      gateway.closeAllConnections()
      gateway.close()
      await closer.stop()
    }
    const retried = logs.filter((line) => line.includes('sent again on a new one')).length
    console.log(`closer: the gateway sent ${retried} requests again after a reused connection closed`)
    const reasons = new Map<string, number>()
    for (const line of logs.filter((l) => l.includes('no answer'))) {
      const why = line.replace(/^\S+ \S+ \S+: /, '')
      reasons.set(why, (reasons.get(why) ?? 0) + 1)
    }
    for (const [why, n] of reasons) console.log(`closer: ${n} × 502 because ${why}`)
  }
} finally {
  await stack.stop()
}
