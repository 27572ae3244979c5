import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { createClient } from '@supabase/supabase-js'
import WebSocket from 'ws'
import { PROJECT_ROOT } from '../scripts/paths.ts'
import { signUp } from './lib.ts'

// `npm run stress [-- --seconds 300 --clients 50]`: the soak of issue 12. The stack runs in a
// process of its own (`npm run dev`'s script, on free ports and a scratch data directory), so its
// memory is measured apart from the load. Mixed traffic from --clients clients (API calls,
// uploads that are aborted or stall, oversized heads, Realtime sockets that subscribe, drop and
// reconnect), while a third user's GET users/me is timed before, during and after. Bounded by
// time; loopback only; stops by itself.

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '300' },
    clients: { type: 'string', default: '50' },
    'quiet-seconds': { type: 'string', default: '15' },
  },
})
const seconds = Number(values.seconds)
const clientCount = Number(values.clients)
const quietSeconds = Number(values['quiet-seconds'])
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const FUNCTIONS = ['users', 'notes', 'tasks', 'planning', 'chat', 'auth']

// --- the stack, in its own process ----------------------------------------------------------

interface RunningStack {
  child: ChildProcess
  apiUrl: string
  anonKey: string
  dataDir: string
}

async function startStackProcess(): Promise<RunningStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'consilium-stress-'))
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(PROJECT_ROOT, 'scripts', 'dev.ts'), '--port', '0', '--db-port', '0'].concat([
      '--data-dir',
      join(dataDir, 'db'),
      '--no-watch',
    ]),
    { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  child.stderr?.on('data', () => {})
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the stack did not start:\n${out}`)), 120_000)
    child.stdout?.on('data', (chunk) => {
      out += chunk
      const api = /API URL: (\S+)/.exec(out)
      const anon = /anon key: (\S+)/.exec(out)
      if (api && anon) {
        clearTimeout(timer)
        resolve({ child, apiUrl: api[1], anonKey: anon[1], dataDir })
      }
    })
    child.once('exit', (code) => reject(new Error(`the stack exited with ${code}:\n${out}`)))
  })
}

/** Resident memory in MiB of the stack's process and of its Deno workers. */
function memory(pid: number): { stack: number; workers: number; workerCount: number } {
  const rss = (p: number) => {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))
      return match ? Number(match[1]) / 1024 : 0
    } catch {
      return 0
    }
  }
  let children: number[] = []
  try {
    children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)])
      .toString()
      .split('\n')
      .map(Number)
      .filter(Boolean)
  } catch {}
  const workers = children.filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('worker.ts')
    } catch {
      return false
    }
  })
  return {
    stack: rss(pid),
    workers: workers.reduce((sum, p) => sum + rss(p), 0),
    workerCount: workers.length,
  }
}

// --- the load ---------------------------------------------------------------------------------

const counts = new Map<string, number>()
const count = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1)

async function timed(url: string, init: RequestInit = {}): Promise<number> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) })
    await response.arrayBuffer()
    return response.status
  } catch (error) {
    return (error as Error).name === 'TimeoutError' ? -1 : 0
  }
}

/** Sends the head and part of a body, then hangs up (`stall`: stops sending and waits for the gateway). */
function brokenUpload(port: number, head: string, stall: boolean): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.on('close', () => resolve())
    socket.on('data', () => socket.destroy())
    socket.write(head)
    socket.write('{"title": "half')
    if (!stall) setTimeout(() => socket.destroy(), 20 + Math.random() * 200)
    else setTimeout(() => socket.destroy(), 15_000)
  })
}

async function apiClient(api: string, token: string, until: number): Promise<void> {
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const calls: Array<() => Promise<[string, number]>> = [
    async () => ['GET users/me', await timed(`${api}/functions/v1/users/me`, { headers: auth })],
    async () => ['GET notes', await timed(`${api}/functions/v1/notes?limit=20`, { headers: auth })],
    async () => [
      'POST notes',
      await timed(`${api}/functions/v1/notes`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ title: `stress ${Math.random()}` }),
      }),
    ],
    async () => ['GET tasks', await timed(`${api}/functions/v1/tasks`, { headers: auth })],
    async () => [
      'POST planning/goals',
      await timed(`${api}/functions/v1/planning/goals`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ title: 'stress goal', timeframe: 'weekly' }),
      }),
    ],
    async () => ['GET chat', await timed(`${api}/functions/v1/chat/conversations`, { headers: auth })],
  ]
  while (Date.now() < until) {
    const [name, status] = await calls[Math.floor(Math.random() * calls.length)]()
    count(`${name} ${status}`)
    await sleep(10 + Math.random() * 90)
  }
}

async function uploadAborter(port: number, token: string, until: number, index: number): Promise<void> {
  const targets = [
    'POST /functions/v1/planning/goals',
    'PUT /functions/v1/users/me',
    'POST /functions/v1/notes',
  ]
  while (Date.now() < until) {
    const target = targets[Math.floor(Math.random() * targets.length)]
    const stall = index % 2 === 0 && Math.random() < 0.2
    const head =
      `${target} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${token}\r\n` +
      'content-type: application/json\r\ncontent-length: 1000\r\n\r\n'
    await brokenUpload(port, head, stall)
    count(stall ? 'upload stalled (the gateway gives up after 10 s)' : 'upload aborted')
    await sleep(20 + Math.random() * 100)
  }
}

async function headAbuser(api: string, until: number): Promise<void> {
  while (Date.now() < until) {
    const headers: Record<string, string> = {}
    if (Math.random() < 0.5) headers['x-padding'] = 'a'.repeat(17 * 1024)
    else for (let i = 0; i < 130; i++) headers[`x-field-${i}`] = 'v'
    count(`oversized head ${await timed(`${api}/functions/v1/users/health`, { headers })}`)
    await sleep(100 + Math.random() * 200)
  }
}

async function realtimeReconnector(
  api: string,
  anonKey: string,
  email: string,
  password: string,
  until: number,
  index: number,
): Promise<void> {
  while (Date.now() < until) {
    const supabase = createClient(api, anonKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      realtime: { transport: WebSocket as never },
    })
    try {
      const { error } = await supabase.auth.signInWithPassword({ email, password })
      if (error) throw error
      const status = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('TIMED_OUT_LOCALLY'), 10_000)
        supabase
          .channel(`stress-${index}-${Math.random()}`)
          .on('postgres_changes', { event: '*', schema: 'public', table: 'notes' }, () =>
            count('realtime row'),
          )
          .subscribe((state) => {
            if (state !== 'CLOSED') {
              clearTimeout(timer)
              resolve(state)
            }
          })
      })
      count(`realtime ${status}`)
      await sleep(1000 + Math.random() * 3000)
    } catch (error) {
      count(`realtime error ${(error as Error).message}`)
    } finally {
      await supabase.removeAllChannels()
      supabase.realtime.disconnect()
    }
    await sleep(50 + Math.random() * 200)
  }
}

/** The third user: GET users/me one after another, each latency kept with its phase. */
async function probe(api: string, token: string, phase: () => string, stop: () => boolean) {
  const latencies = new Map<string, number[]>()
  const failures = new Map<string, number>()
  while (!stop()) {
    const started = performance.now()
    const status = await timed(`${api}/functions/v1/users/me`, {
      headers: { authorization: `Bearer ${token}` },
    })
    const name = phase()
    if (status === 200) latencies.set(name, [...(latencies.get(name) ?? []), performance.now() - started])
    else failures.set(name, (failures.get(name) ?? 0) + 1)
    await sleep(50)
  }
  return { latencies, failures }
}

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0

// --- the run ----------------------------------------------------------------------------------

const stack = await startStackProcess()
const port = Number(new URL(stack.apiUrl).port)
const pid = stack.child.pid as number
const authTarget = { apiUrl: stack.apiUrl, keys: { anonKey: stack.anonKey } }
try {
  const password = 'stress-password'
  const users = []
  for (let i = 0; i < 8; i++) {
    const email = `stress-${i}-${crypto.randomUUID().slice(0, 8)}@example.test`
    users.push({ email, token: (await signUp(authTarget, email, password)).access_token })
  }
  const third = (await signUp(authTarget, `third-${crypto.randomUUID().slice(0, 8)}@example.test`, password))
    .access_token

  let phase = 'before'
  let probing = true
  const probed = probe(
    stack.apiUrl,
    third,
    () => phase,
    () => !probing,
  )
  const samples: Array<Record<string, string | number>> = []
  const t0 = Date.now()
  const sample = () => {
    const m = memory(pid)
    samples.push({
      s: Math.round((Date.now() - t0) / 1000),
      phase,
      'stack RSS MiB': Math.round(m.stack),
      'workers RSS MiB': Math.round(m.workers),
      workers: m.workerCount,
    })
  }
  sample()
  const sampler = setInterval(sample, Math.max(5, Math.round(seconds / 12)) * 1000)
  await sleep(quietSeconds * 1000)

  phase = 'during'
  const until = Date.now() + seconds * 1000
  const load: Array<Promise<void>> = []
  for (let i = 0; i < clientCount; i++) {
    const user = users[i % users.length]
    const kind = i % 10
    if (kind < 5) load.push(apiClient(stack.apiUrl, user.token, until))
    else if (kind < 7) load.push(uploadAborter(port, user.token, until, i))
    else if (kind < 9)
      load.push(realtimeReconnector(stack.apiUrl, stack.anonKey, user.email, password, until, i))
    else load.push(headAbuser(stack.apiUrl, until))
  }
  await Promise.all(load)

  phase = 'after'
  await sleep(quietSeconds * 1000)
  probing = false
  clearInterval(sampler)
  sample()
  const { latencies, failures } = await probed

  const health = await Promise.all(
    FUNCTIONS.map(
      async (name) => [name, await timed(`${stack.apiUrl}/functions/v1/${name}/health`)] as const,
    ),
  )

  console.log(`\nstress: ${clientCount} clients for ${seconds} s (quiet ${quietSeconds} s before and after)`)
  console.log('\nmemory over time')
  console.table(samples)
  console.log("\nthe third user's GET users/me (ms)")
  console.table(
    ['before', 'during', 'after'].map((name) => {
      const sorted = [...(latencies.get(name) ?? [])].sort((a, b) => a - b)
      return {
        phase: name,
        n: sorted.length,
        failed: failures.get(name) ?? 0,
        p50: percentile(sorted, 50).toFixed(1),
        p99: percentile(sorted, 99).toFixed(1),
        max: (sorted.at(-1) ?? 0).toFixed(1),
      }
    }),
  )
  console.log('\nwhat the clients did (status -1: no answer in 15 s, 0: connection error)')
  console.table([...counts.entries()].sort().map(([what, n]) => ({ what, n })))
  console.log('\nhealth of every function after the run')
  console.table(health.map(([name, status]) => ({ function: name, status })))
  const stuck = health.filter(([, status]) => status !== 200).map(([name]) => name)
  console.log(stuck.length ? `STUCK: ${stuck.join(', ')}` : 'no function is stuck')
} finally {
  await new Promise<void>((resolve) => {
    stack.child.once('exit', () => resolve())
    stack.child.kill('SIGINT')
    setTimeout(() => stack.child.kill('SIGKILL'), 15_000).unref()
  })
  rmSync(stack.dataDir, { recursive: true, force: true })
}
