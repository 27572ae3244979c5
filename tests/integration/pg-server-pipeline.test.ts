import { PGlite } from '@electric-sql/pglite'
import postgres from 'postgres'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { PgServer } from '../../scripts/stack/pg-server.ts'

// The embedded database's wire server hands a client's pipelined messages to PGlite in one call,
// and writes the answers at once (ADR 0037): withUser's one-statement transaction (BEGIN, the
// settings, the statement, COMMIT, each a Bind, Execute and Sync) is one call, not four. What the
// Syncs between the statements mean is PostgreSQL's to keep: a failed statement aborts the
// transaction, its COMMIT answers as a rollback, and the next transaction runs.

let db: PGlite
let server: PgServer
let sql: postgres.Sql
let calls = 0

beforeAll(async () => {
  db = await PGlite.create({ username: 'supabase_admin', initDbStartParams: ['--username=supabase_admin'] })
  await db.exec(`create role tester login password 'tester-password'; create table public.kept (n int);
    grant all on public.kept to tester`)
  const execute = db.execProtocolRawStream.bind(db)
  db.execProtocolRawStream = (...args) => {
    calls++
    return execute(...args)
  }
  server = new PgServer({ db, host: '127.0.0.1', port: 0, superuser: 'supabase_admin', database: 'postgres' })
  const port = await server.start()
  sql = postgres(`postgresql://tester:tester-password@127.0.0.1:${port}/postgres`, {
    max: 1,
    onnotice: () => {},
  })
}, 60_000)

afterAll(async () => {
  await sql?.end()
  await server?.stop()
  await db?.close()
})

/** BEGIN, `statements` and COMMIT sent together on one connection, as withUserStatement sends them. */
async function pipelined(statements: (tx: postgres.ReservedSql) => postgres.PendingQuery<postgres.Row[]>[]) {
  const tx = await sql.reserve()
  try {
    return await Promise.allSettled([
      tx`begin`.execute(),
      ...statements(tx).map((query) => query.execute()),
      tx`commit`.execute(),
    ])
  } finally {
    tx.release()
  }
}

it('runs a pipelined transaction in one call into PGlite, with every answer right', async () => {
  const transaction = (tx: postgres.ReservedSql) => [
    tx`select set_config('app.who', 'tester', true) as who`,
    tx`select ${41}::int + 1 as answer, current_user as role`,
  ]
  await pipelined(transaction) // prepares the statements
  calls = 0
  const [begin, who, answer, commit] = await pipelined(transaction)
  expect(calls).toBe(1)
  expect(begin.status).toBe('fulfilled')
  expect(who.status === 'fulfilled' && who.value[0]).toEqual({ who: 'tester' })
  expect(answer.status === 'fulfilled' && answer.value[0]).toEqual({ answer: 42, role: 'tester' })
  expect(commit.status === 'fulfilled' && commit.value.command).toBe('COMMIT')
})

it('keeps nothing of a pipelined transaction whose statement fails, and serves the next one', async () => {
  const failing = (tx: postgres.ReservedSql) => [tx`insert into public.kept values (1)`, tx`select 1 / 0`]
  await pipelined(failing)
  calls = 0
  const [, inserted, divided, commit] = await pipelined(failing)
  expect(calls).toBe(1)
  expect(inserted.status).toBe('fulfilled')
  expect(divided.status === 'rejected' && (divided.reason as postgres.PostgresError).code).toBe('22012')
  // PostgreSQL answers the COMMIT of an aborted transaction as a rollback.
  expect(commit.status === 'fulfilled' && commit.value.command).toBe('ROLLBACK')
  expect(await sql`select count(*)::int as n from public.kept`).toEqual([{ n: 0 }])
})
