import { readdirSync, readFileSync } from 'node:fs'
import { type Agent, request } from 'node:http'
import { performance } from 'node:perf_hooks'

export interface Measurement {
  name: string
  requests: number
  concurrency: number
  rps: number
  p50: number
  p99: number
  /** CPU per request in ms by where it ran, when measured with `cpu` (Linux only). */
  cpu?: CpuSplit
}

/**
 * CPU time so far (ms), from /proc: this process's main thread (in the request-path bench, the
 * gateway and the bench's client), its other threads (the embedded database's thread, V8's and
 * libuv's helpers) and its child processes and theirs (the Deno functions). Wall-clock latency
 * moves with how fast this shared machine is that hour; CPU per request says where the work is.
 */
export interface CpuSplit {
  main: number
  threads: number
  children: number
}

/** The fields of a /proc stat line after the command's parenthesis: state, ppid, … */
const statFields = (stat: string) => stat.slice(stat.lastIndexOf(')') + 2).split(' ')

/** Clock ticks of utime + stime in a /proc stat line. */
function ticks(stat: string): number {
  const fields = statFields(stat)
  return Number(fields[11]) + Number(fields[12])
}

const TICK_MS = 10 // USER_HZ is 100 on Linux

/** The CPU split now, or undefined where /proc cannot tell (not Linux). */
export function cpuNow(): CpuSplit | undefined {
  try {
    const self = process.pid
    let main = 0
    let threads = 0
    for (const tid of readdirSync('/proc/self/task')) {
      const t = ticks(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8'))
      if (Number(tid) === self) main = t
      else threads += t
    }
    const parents = new Map<number, number[]>()
    const own = new Map<number, number>()
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
        const ppid = Number(statFields(stat)[1])
        parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)])
        own.set(Number(entry), ticks(stat))
      } catch {
        // The process ended while it was being read.
      }
    }
    let children = 0
    const queue = [...(parents.get(self) ?? [])]
    while (queue.length) {
      const pid = queue.pop() as number
      children += own.get(pid) ?? 0
      queue.push(...(parents.get(pid) ?? []))
    }
    return { main: main * TICK_MS, threads: threads * TICK_MS, children: children * TICK_MS }
  } catch {
    return undefined
  }
}

function cpuPerRequest(before: CpuSplit | undefined, requests: number): CpuSplit | undefined {
  const after = cpuNow()
  if (!before || !after) return undefined
  return {
    main: (after.main - before.main) / requests,
    threads: (after.threads - before.threads) / requests,
    children: (after.children - before.children) / requests,
  }
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

/**
 * Runs `task` `requests` times with `concurrency` in flight (after `warmup` untimed runs) and
 * reports throughput and latency percentiles in milliseconds. Bounded by count, never by time.
 */
export async function measure(
  name: string,
  task: (i: number) => Promise<unknown>,
  { requests = 2000, concurrency = 8, warmup = 100, cpu = false } = {},
): Promise<Measurement> {
  for (let i = 0; i < warmup; i++) await task(i)
  const latencies: number[] = []
  let next = 0
  const cpuBefore = cpu ? cpuNow() : undefined
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const i = next++
        const t0 = performance.now()
        await task(i)
        latencies.push(performance.now() - t0)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const cpuUsed = cpu ? cpuPerRequest(cpuBefore, requests) : undefined
  latencies.sort((a, b) => a - b)
  return {
    name,
    requests,
    concurrency,
    rps: requests / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    ...(cpuUsed ? { cpu: cpuUsed } : {}),
  }
}

/**
 * As measure(), for cases to be compared with each other, after a warm-up long enough that passes
 * agree: passes of `requests` run for each case in turn (a, b, a, b, …), so that every case sees the
 * same minutes of a machine whose speed drifts, until for every case the throughput of its last two
 * passes differs by at most `tolerance` (or `maxPasses` rounds ran). Each case's last pass is
 * reported, `spread` saying how far it was from the one before.
 */
export async function measureSteady(
  cases: { name: string; task: (i: number) => Promise<unknown> }[],
  { requests = 2000, concurrency = 8, warmup = 200, tolerance = 0.05, maxPasses = 6, cpu = false } = {},
): Promise<(Measurement & { passes: number; spread: number })[]> {
  const run = (c: (typeof cases)[number], warm: number) =>
    measure(c.name, c.task, { requests, concurrency, warmup: warm, cpu })
  let previous: Measurement[] = []
  for (const c of cases) previous.push(await run(c, warmup))
  for (let passes = 2; ; passes++) {
    const current: Measurement[] = []
    for (const c of cases) current.push(await run(c, 0))
    const spreads = current.map(
      (m, i) => Math.abs(m.rps - previous[i].rps) / Math.max(m.rps, previous[i].rps),
    )
    if (spreads.every((spread) => spread <= tolerance) || passes >= maxPasses)
      return current.map((m, i) => ({ ...m, passes, spread: spreads[i] }))
    previous = current
  }
}

export function printTable(title: string, rows: Measurement[]): void {
  console.log(`\n${title}`)
  console.table(
    rows.map((r) => ({
      case: r.name,
      'req/s': Math.round(r.rps),
      'p50 ms': r.p50.toFixed(2),
      'p99 ms': r.p99.toFixed(2),
      n: r.requests,
      conc: r.concurrency,
      ...(r.cpu
        ? {
            'cpu ms/req main': r.cpu.main.toFixed(2),
            'other threads': r.cpu.threads.toFixed(2),
            functions: r.cpu.children.toFixed(2),
          }
        : {}),
    })),
  )
}

/** Fails loudly when a benchmarked request does not do what it should (a fast error is no result). */
export async function expectOk(response: Response): Promise<void> {
  if (!response.ok) throw new Error(`benchmark request failed: ${response.status} ${await response.text()}`)
  await response.arrayBuffer()
}

export interface BenchSession {
  access_token: string
  refresh_token: string
  user: { id: string }
}

/** Signs a new user up through the stack's auth service; its first session. */
export async function signUp(
  stack: { apiUrl: string; keys: { anonKey: string } },
  email: string,
  password: string,
): Promise<BenchSession> {
  const response = await fetch(`${stack.apiUrl}/auth/v1/signup`, {
    method: 'POST',
    headers: { apikey: stack.keys.anonKey, 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  })
  if (!response.ok) throw new Error(`signup failed: ${response.status} ${await response.text()}`)
  return (await response.json()) as BenchSession
}

/**
 * GETs `url` over `agent`'s kept-alive connections and reads the answer, failing loudly on a non-2xx
 * status as expectOk does. The request-path bench's client: node:http costs the bench's process
 * far less CPU per request than fetch (undici's streams, Headers and signals), and on a machine of
 * two cores the client's CPU is taken from the path it measures (docs/adr/0037-request-path-waits.md).
 */
export function getOk(agent: Agent, url: string, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        const status = res.statusCode ?? 0
        if (status >= 200 && status < 300) resolve()
        else reject(new Error(`benchmark request failed: ${status} ${Buffer.concat(chunks).toString()}`))
      })
    })
    req.on('error', reject)
    req.end()
  })
}
