import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { functionEnv, type Stack, startStack } from '../scripts/stack/index.ts'
import { benchAi } from './ai.ts'
import { benchAuth } from './auth.ts'
import { benchKnowledge } from './knowledge.ts'
import { runDomainBench } from './domain.ts'
import { type Measurement, printTable, signUp } from './lib.ts'
import { benchRealtime } from './realtime.ts'
import { benchTrust } from './trust.ts'
import { benchRequestPath } from './request-path.ts'
import { benchUsers } from './users.ts'

// `npm run bench [-- --only a,b] [-- --db-url <postgres url>]`: the suites against a stack on the
// embedded database; with --db-url, against the embedded database and then against that existing
// PostgreSQL (as a superuser, ADR 0033), each in a process of its own, and the two side by side.

export interface BenchUser {
  id: string
  token: string
}

export interface BenchContext {
  stack: Stack
  sql: postgres.Sql
  user: BenchUser
}

const suites: Record<string, (context: BenchContext) => Promise<Measurement[]>> = {
  users: benchUsers,
  auth: benchAuth,
  domain: runDomainBench,
  realtime: benchRealtime,
  path: benchRequestPath,
  ai: benchAi,
  knowledge: benchKnowledge,
  trust: benchTrust,
}

// `--sizes` and `--explain` belong to the knowledge suite (bench/knowledge.ts); `--database` and `--json` are
// how a run with --db-url hands one database to a child run and reads its results back.
const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    sizes: { type: 'string' },
    explain: { type: 'boolean' },
    'db-url': { type: 'string' },
    database: { type: 'string' },
    json: { type: 'string' },
  },
})
const selected = values.only ? values.only.split(',') : Object.keys(suites)
for (const name of selected) {
  if (!suites[name]) {
    console.error(`no benchmark "${name}"; there are: ${Object.keys(suites).join(', ')}`)
    process.exit(2)
  }
}

interface SuiteResult {
  suite: string
  rows: Measurement[]
}
interface RunResult {
  database: string
  results: SuiteResult[]
}

const load = () =>
  `load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}`

if (values['db-url'] && !values.database) await sideBySide(values['db-url'])
else await runHere(values.database === 'embedded' ? undefined : (values.database ?? values['db-url']))

/** Runs the selected suites on one stack, in this process. */
async function runHere(dbUrl: string | undefined): Promise<void> {
  // A benchmark is one client making many requests: the limits stay out of reach (the per-user count still runs).
  process.env.RATE_LIMIT_PER_USER_PER_MINUTE ??= '1000000000'
  process.env.RATE_LIMIT_PER_ADDRESS_PER_MINUTE ??= '0'
  const stack = await startStack({ port: 0, dbPort: 0, dbUrl, knowledgeDrainIntervalMs: 0, log: () => {} })
  const sql = postgres(stack.dbUrl, { max: 8, onnotice: () => {} })
  // Code run here in process (the apps, the verbs) reads the environment the stack gives its functions.
  Object.assign(process.env, functionEnv(stack.apiUrl, stack.dbUrl, stack.keys))
  const run: RunResult = { database: stack.databaseVersion, results: [] }
  console.log(`\nOn ${stack.databaseVersion}; ${load()}`)
  try {
    const user = await createBenchUser(stack)
    for (const name of selected) {
      const rows = await suites[name]({ stack, sql, user })
      printTable(`${name} (${stack.databaseVersion}; ${load()})`, rows)
      run.results.push({ suite: name, rows })
    }
  } finally {
    await sql.end()
    await stack.stop()
  }
  if (values.json) writeFileSync(values.json, JSON.stringify(run))
}

/**
 * The embedded database, then the existing PostgreSQL, each in a child run (so nothing one leaves
 * behind, a pool or a cached setting, touches the other), then every row of both side by side.
 */
async function sideBySide(dbUrl: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'consilium-bench-'))
  const runs: RunResult[] = []
  try {
    for (const [i, database] of ['embedded', dbUrl].entries()) {
      const json = join(dir, `${i}.json`)
      const args = [fileURLToPath(import.meta.url), '--database', database, '--json', json]
      if (values.only) args.push('--only', values.only)
      if (values.sizes) args.push('--sizes', values.sizes)
      if (values.explain) args.push('--explain')
      const code = await new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [...process.execArgv, ...args], { stdio: 'inherit' })
        child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)))
      })
      if (code !== 0) throw new Error(`the run on ${i === 0 ? 'the embedded database' : '--db-url'} failed`)
      runs.push(JSON.parse(readFileSync(json, 'utf8')) as RunResult)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const [embedded, external] = runs
  for (const { suite, rows } of embedded.results) {
    const other = new Map(
      (external.results.find((r) => r.suite === suite)?.rows ?? []).map((row) => [
        `${row.name}|${row.concurrency}`,
        row,
      ]),
    )
    console.log(`\n${suite}: ${embedded.database} | ${external.database}`)
    console.table(
      rows.map((row) => {
        const twin = other.get(`${row.name}|${row.concurrency}`)
        return {
          case: row.name,
          conc: row.concurrency,
          'embedded req/s': Math.round(row.rps),
          'embedded p50': row.p50.toFixed(2),
          'postgres req/s': twin ? Math.round(twin.rps) : '',
          'postgres p50': twin ? twin.p50.toFixed(2) : '',
        }
      }),
    )
  }
}

/** A user signed up through the stack's auth service, with the access token it issued. */
async function createBenchUser(stack: Stack): Promise<BenchUser> {
  const session = await signUp(stack, `bench-${crypto.randomUUID()}@example.test`, 'bench-password')
  return { id: session.user.id, token: session.access_token }
}
