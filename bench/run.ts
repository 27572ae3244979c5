import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { functionEnv, type Stack, startStack } from '../scripts/stack/index.ts'
import { benchAi } from './ai.ts'
import { benchAuth } from './auth.ts'
import { benchKnowledge } from './knowledge.ts'
import { runDomainBench } from './domain.ts'
import { type Measurement, printTable, signUp } from './lib.ts'
import { benchRealtime } from './realtime.ts'
import { benchRequestPath } from './request-path.ts'
import { benchUsers } from './users.ts'

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
}

// `--sizes` and `--explain` belong to the knowledge suite (bench/knowledge.ts).
const { values } = parseArgs({
  options: { only: { type: 'string' }, sizes: { type: 'string' }, explain: { type: 'boolean' } },
})
const selected = values.only ? values.only.split(',') : Object.keys(suites)

// A benchmark is one client making many requests: the limits stay out of reach (the per-user count still runs).
process.env.RATE_LIMIT_PER_USER_PER_MINUTE ??= '1000000000'
process.env.RATE_LIMIT_PER_ADDRESS_PER_MINUTE ??= '0'
const stack = await startStack({ port: 0, dbPort: 0, knowledgeDrainIntervalMs: 0, log: () => {} })
const sql = postgres(stack.dbUrl, { max: 8, onnotice: () => {} })
// Code run here in process (the apps, the verbs) reads the environment the stack gives its functions.
Object.assign(process.env, functionEnv(stack.apiUrl, stack.dbUrl, stack.keys))
try {
  const user = await createBenchUser(stack)
  for (const name of selected) {
    const suite = suites[name]
    if (!suite) throw new Error(`no benchmark "${name}"; there are: ${Object.keys(suites).join(', ')}`)
    printTable(name, await suite({ stack, sql, user }))
  }
} finally {
  await sql.end()
  await stack.stop()
}

/** A user signed up through the stack's auth service, with the access token it issued. */
async function createBenchUser(stack: Stack): Promise<BenchUser> {
  const session = await signUp(stack, `bench-${crypto.randomUUID()}@example.test`, 'bench-password')
  return { id: session.user.id, token: session.access_token }
}
