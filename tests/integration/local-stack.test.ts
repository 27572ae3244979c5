import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import postgres from 'postgres'
import { afterAll, describe, expect, it } from 'vitest'
import { DataDirLockedError, startDatabase } from '../../scripts/stack/database.ts'
import { PROJECT_ROOT } from '../../scripts/paths.ts'
import { cliDbUrl, supabaseCli } from '../../scripts/stack/migrate.ts'
import { stack } from '../helpers/stack.ts'

const clients: postgres.Sql[] = []
function connect(max = 1) {
  const sql = postgres(stack.dbUrl, { max, onnotice: () => {} })
  clients.push(sql)
  return sql
}
afterAll(async () => {
  await Promise.all(clients.map((sql) => sql.end()))
})

const scratchDirs: string[] = []
/** A temporary directory, removed after this file's tests. */
function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  scratchDirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true })
})

describe('the embedded database server', () => {
  // On a PostgreSQL server of your own (--db-url) transactions overlap, as on hosted.
  it.runIf(stack.embeddedDatabase)('never lets another connection into an open transaction', async () => {
    const a = connect()
    const b = connect()
    const table = `interleave_${crypto.randomUUID().replaceAll('-', '')}`
    await a.unsafe(`create table public.${table} (n int)`)
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let entered!: () => void
    const inside = new Promise<void>((resolve) => (entered = resolve))
    const transaction = a.begin(async (tx) => {
      await tx.unsafe(`insert into public.${table} values (1)`)
      await tx`select set_config('app.marker', 'a', true)`
      entered()
      await held
      await tx.unsafe(`insert into public.${table} values (2)`)
    })
    await inside
    // B asks while A's transaction is open; it is answered only after A commits.
    const seen = b.unsafe(
      `select count(*)::int as n, current_setting('app.marker', true) as marker from public.${table}`,
    )
    release()
    await transaction
    const [row] = await seen
    expect(row.n).toBe(2)
    expect(row.marker ?? '').toBe('')
    await a.unsafe(`drop table public.${table}`)
  })

  it('delivers a result larger than the socket can take at once, intact', async () => {
    const sql = connect()
    const rows = await sql<{ i: number; body: string }[]>`
      select i, repeat(md5(i::text), 200) as body from generate_series(1, 3000) i`
    expect(rows).toHaveLength(3000)
    const wrong = rows.filter(
      (row) => row.body !== createHash('md5').update(String(row.i)).digest('hex').repeat(200),
    )
    expect(wrong).toHaveLength(0)
  })

  it('rolls back what a vanished client left open and serves the others', async () => {
    const table = `vanish_${crypto.randomUUID().replaceAll('-', '')}`
    const admin = connect()
    await admin.unsafe(`create table public.${table} (n int)`)
    const doomed = postgres(stack.dbUrl, { max: 1, onnotice: () => {} })
    const reserved = await doomed.reserve()
    await reserved`begin`
    await reserved.unsafe(`insert into public.${table} values (1)`)
    await doomed.end({ timeout: 0 })
    const [row] = await admin.unsafe(`select count(*)::int as n from public.${table}`)
    expect(row.n).toBe(0)
    await admin.unsafe(`drop table public.${table}`)
  })

  it('resets session settings when the client that made them leaves', async () => {
    const careless = postgres(stack.dbUrl, { max: 1, onnotice: () => {} })
    await careless`set search_path to public`
    await careless`set role authenticated`
    await careless.end()
    const [row] = await connect()`select current_setting('search_path') as path, current_user as role`
    expect(row.path).toContain('extensions')
    expect(row.role).toBe('postgres')
  })

  it('has every migration applied, as the Supabase CLI records them', async () => {
    const output = await supabaseCli(['migration', 'list', '--db-url', cliDbUrl(stack.dbUrl)])
    const files = readdirSync(join(PROJECT_ROOT, 'supabase', 'migrations')).filter((f) => f.endsWith('.sql'))
    expect(files.length).toBeGreaterThan(0)
    for (const file of files) {
      const version = file.split('_')[0]
      // Applied rows name the version in both the Local and the Remote column.
      expect(output).toMatch(new RegExp(`${version}\\W+\\|\\W+${version}`))
    }
  })
})

// Each of these starts a database of its own (PGlite's boot and bootstrap take seconds, more on a
// busy machine): they get the time a start takes, not the default 30 s.
const STARTS_A_DATABASE = { timeout: 120_000 }

describe('turn hints', STARTS_A_DATABASE, () => {
  it('tell listeners each time a client ends its turn, until they unsubscribe', async () => {
    const database = await startDatabase({ port: 0 })
    const sql = postgres(database.url, { max: 1, onnotice: () => {} })
    try {
      let turns = 0
      const stop = database.onTurnEnd?.(() => turns++) ?? (() => {})
      await sql.begin(async (tx) => {
        await tx`select 1`
        // Inside the transaction the client still holds its turn.
        const during = turns
        await tx`select 2`
        expect(turns).toBe(during)
      })
      expect(turns).toBeGreaterThan(0)
      stop()
      const after = turns
      await sql`select 3`
      expect(turns).toBe(after)
    } finally {
      await sql.end()
      await database.stop()
    }
  })
})

describe('the embedded database’s thread', STARTS_A_DATABASE, () => {
  it('answers clients while the main thread is busy (the gateway, Auth and Realtime run there)', async () => {
    const database = await startDatabase({ port: 0 })
    // A client in another process: connected, it waits for "go", then queries for 1.5 s, one
    // query at a time, and prints how many were answered.
    const client = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import postgres from 'postgres'
         const sql = postgres(process.argv[1], { max: 1, onnotice: () => {} })
         await sql\`select 1\`
         console.log('ready')
         process.stdin.once('data', async () => {
           let answered = 0
           const until = Date.now() + 1500
           while (Date.now() < until) {
             await sql\`select 1\`
             answered++
           }
           console.log('answered', answered)
           await sql.end()
         })`,
        database.url,
      ],
      { cwd: PROJECT_ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
    )
    try {
      let output = ''
      const printed = (pattern: RegExp) =>
        new Promise<RegExpMatchArray>((resolve, reject) => {
          const look = () => {
            const match = output.match(pattern)
            if (match) resolve(match)
          }
          client.stdout.on('data', (chunk: Buffer) => {
            output += chunk.toString()
            look()
          })
          client.on('exit', () => reject(new Error(`the client exited having printed: ${output}`)))
          look()
        })
      await printed(/ready/)
      client.stdin.write('go\n')
      // The main thread does nothing else for 2 s: a database on it could answer none of them.
      const until = Date.now() + 2000
      while (Date.now() < until) {
        // busy
      }
      const [, answered] = await printed(/answered (\d+)/)
      expect(Number(answered)).toBeGreaterThan(10)
    } finally {
      client.kill()
      await database.stop()
    }
  })
})

describe('starting a database', STARTS_A_DATABASE, () => {
  it('refuses a second opener of one data directory and says who holds it', async () => {
    const dataDir = join(scratchDir('consilium-lock-'), 'db')
    const first = await startDatabase({ dataDir, port: 0 })
    try {
      await expect(startDatabase({ dataDir, port: 0 })).rejects.toThrow(DataDirLockedError)
      await expect(startDatabase({ dataDir, port: 0 })).rejects.toThrow(`in use by process ${process.pid}`)
    } finally {
      await first.stop()
    }
    // Stopped cleanly, the directory opens again with its data.
    const again = await startDatabase({ dataDir, port: 0 })
    await again.stop()
  })

  it('takes over a lock whose process is gone', async () => {
    const dataDir = join(scratchDir('consilium-stale-'), 'db')
    writeFileSync(`${dataDir}.lock`, '2147483646')
    const database = await startDatabase({ dataDir, port: 0 })
    await database.stop()
  })

  it('refuses a data directory whose bootstrap superuser is postgres, and says to --reset', async () => {
    // What earlier versions of the stack made: PGlite's default initdb, postgres the superuser.
    const dataDir = join(mkdtempSync(join(tmpdir(), 'consilium-old-')), 'db')
    const old = await PGlite.create({ dataDir })
    await old.exec('create role supabase_admin login superuser')
    await old.close()
    await expect(startDatabase({ dataDir, port: 0 })).rejects.toThrow(
      /earlier version of the local stack.*--reset/s,
    )
    rmSync(dirname(dataDir), { recursive: true, force: true })
  }, 120_000)

  it('says which port is taken', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const address = blocker.address()
    const port = typeof address === 'object' && address ? address.port : 0
    try {
      await expect(startDatabase({ port })).rejects.toThrow(
        `Port ${port} on 127.0.0.1 (database) is already in use`,
      )
    } finally {
      blocker.close()
    }
  })
})
