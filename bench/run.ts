import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { type Stack, startStack } from '../scripts/stack/index.ts'
import { benchAuth } from './auth.ts'
import { runDomainBench } from './domain.ts'
import { type Measurement, printTable } from './lib.ts'
import { benchRealtime } from './realtime.ts'
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
}

const { values } = parseArgs({ options: { only: { type: 'string' } } })
const selected = values.only ? values.only.split(',') : Object.keys(suites)

const stack = await startStack({ port: 0, dbPort: 0, log: () => {} })
const sql = postgres(stack.dbUrl, { max: 8, onnotice: () => {} })
try {
  const user = await createBenchUser(stack, sql)
  for (const name of selected) {
    const suite = suites[name]
    if (!suite) throw new Error(`no benchmark "${name}"; there are: ${Object.keys(suites).join(', ')}`)
    printTable(name, await suite({ stack, sql, user }))
  }
} finally {
  await sql.end()
  await stack.stop()
}

async function createBenchUser(stack: Stack, sql: postgres.Sql): Promise<BenchUser> {
  const { SignJWT } = await import('jose')
  const id = crypto.randomUUID()
  await sql`insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
            values (${id}, 'authenticated', 'authenticated', ${`bench-${id}@example.test`}, '{}', '{}', now(), now())`
  const token = await new SignJWT({
    aud: 'authenticated',
    role: 'authenticated',
    session_id: crypto.randomUUID(),
  })
    .setProtectedHeader({ alg: 'ES256', kid: stack.keys.signingKey.kid })
    .setSubject(id)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(stack.keys.signingKey.privateKey)
  return { id, token }
}
