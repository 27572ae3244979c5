import { Agent } from 'node:http'
import { userContext } from '../shared/core/context.ts'
import { verifyAccessToken } from '../shared/http/require-user.ts'
import { listNotes } from '../shared/notes/service.ts'
import { getMe } from '../shared/users/service.ts'
import { type CpuSplit, getOk, type Measurement, measureSteady } from './lib.ts'
import type { BenchContext } from './run.ts'

// The request path against what it costs at least: each case through the whole path (gateway →
// Deno function → token check → withUser → Postgres), and the verb run here, in process, through
// the same withUser code: the direct row sends exactly the statements a request sends, pipelined
// the same way (BEGIN, the settings, the statement and COMMIT in one write for these one-statement
// verbs, ADR 0023), on a pool as large as a function's. Each at concurrency 1, 8 and 32; passes of
// the full path and of the direct statements alternate, so that both rows of a ratio see the same
// minutes of a machine whose speed drifts, until each row's last two agree within 5% (the first
// warms the JIT, the pools and the plan caches); the last of each is reported. The full path's
// client is node:http on kept-alive connections, not fetch: it runs in this process, beside the
// gateway, and fetch's own CPU per request (more than the gateway's) would be counted against the
// path (ADR 0037). Each row also says the CPU a request took, by thread and process (from /proc):
// the machine's speed varies from hour to hour and with it every latency, but where the work is
// stays put.

const CONCURRENCY = [1, 8, 32]

/**
 * A row's CPU per request: this process's main thread (the client, and for the full path the
 * gateway; for the direct row the verb and postgres.js), its other threads (the embedded
 * database's, V8's helpers) and the child processes (the Deno functions).
 */
const cpuText = ({ main, threads, children }: CpuSplit) =>
  `${(main + threads + children).toFixed(2)} (main thread ${main.toFixed(2)}, other threads ${threads.toFixed(2)}, ` +
  `functions ${children.toFixed(2)})`

const NOTES = 200

export async function benchRequestPath({ stack, sql, user }: BenchContext): Promise<Measurement[]> {
  await sql`
    insert into public.notes (user_id, title)
    select ${user.id}, 'Path note ' || n from generate_series(1, ${NOTES}) n`
  const ctx = userContext(await verifyAccessToken(user.token))
  const headers = { authorization: `Bearer ${user.token}` }
  const api = `${stack.apiUrl}/functions/v1`
  const agent = new Agent({ keepAlive: true, maxSockets: Math.max(...CONCURRENCY) })
  const cases = [
    {
      name: 'GET users/me',
      full: () => getOk(agent, `${api}/users/me`, headers),
      direct: () => getMe.trusted({ ctx, input: {} }),
    },
    {
      name: 'GET notes?limit=50',
      full: () => getOk(agent, `${api}/notes?limit=50`, headers),
      direct: () => listNotes.trusted({ ctx, input: { limit: 50, is_archived: false } }),
    },
  ]
  const rows: Measurement[] = []
  try {
    for (const { name, full, direct } of cases) {
      for (const concurrency of CONCURRENCY) {
        const options = { requests: concurrency === 1 ? 1000 : 3000, concurrency, warmup: 300, cpu: true }
        const [path, statements] = await measureSteady(
          [
            { name: `${name}, full path`, task: full },
            { name: `${name}, its statements directly`, task: direct },
          ],
          options,
        )
        rows.push(path, statements)
        console.log(
          `${name} at concurrency ${concurrency}: full path ${(path.rps / statements.rps).toFixed(2)} of the ` +
            `direct statements' throughput; p50 ${path.p50.toFixed(2)} ms vs ${statements.p50.toFixed(2)} ms ` +
            `(passes agreeing within ${(path.spread * 100).toFixed(0)}% and ${(statements.spread * 100).toFixed(0)}%)` +
            (path.cpu && statements.cpu
              ? `; CPU per request ${cpuText(path.cpu)} ms vs ${cpuText(statements.cpu)} ms`
              : ''),
        )
      }
    }
  } finally {
    agent.destroy()
  }
  return rows
}
