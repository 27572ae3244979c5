import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROJECT_ROOT } from '../../scripts/paths.ts'
import { type Database, startDatabase } from '../../scripts/stack/database.ts'
import { applyMigrations } from '../../scripts/stack/migrate.ts'

// On hosted Supabase every migration, dump replay or `supabase db push` may be the first thing a
// new session does, as postgres (not a superuser). PGlite keeps one session for as long as it is
// open, so a fresh one is a reopened database.

const MIGRATIONS = join(PROJECT_ROOT, 'supabase', 'migrations')
const DEFINITION = /create (?:or replace )?function public\.match_document_chunks\b/i

/** The last migration's `create function public.match_document_chunks …;`, as `create or replace`. */
function latestDefinition(): { file: string; sql: string } {
  const file = readdirSync(MIGRATIONS)
    .filter((name) => name.endsWith('.sql') && DEFINITION.test(readFileSync(join(MIGRATIONS, name), 'utf8')))
    .sort()
    .at(-1) as string
  const text = readFileSync(join(MIGRATIONS, file), 'utf8')
  const start = text.search(DEFINITION)
  const bodyStart = text.indexOf('$$', start)
  const bodyEnd = text.indexOf('$$', bodyStart + 2)
  const statement = text.slice(start, text.indexOf(';', bodyEnd) + 1)
  return {
    file,
    sql: statement.replace(DEFINITION, 'create or replace function public.match_document_chunks'),
  }
}

const dir = mkdtempSync(join(tmpdir(), 'consilium-fresh-'))
const dataDir = join(dir, 'db')
let database: Database | undefined

/** A new session: the database closed and opened again, so no library is loaded yet. */
async function freshSession(): Promise<postgres.Sql> {
  await database?.stop()
  database = await startDatabase({ dataDir, port: 0 })
  return postgres(database.url, { max: 1, onnotice: () => {} })
}

beforeAll(async () => {
  database = await startDatabase({ dataDir, port: 0 })
  await applyMigrations(database.url)
}, 180_000)

afterAll(async () => {
  await database?.stop()
  rmSync(dir, { recursive: true, force: true })
})

// Each test reopens the database (a new PGlite backend), which takes seconds on a busy machine.
describe('a fresh session as postgres', { timeout: 120_000 }, () => {
  it('logs in as hosted Supabase’s postgres, with pgvector not loaded', async () => {
    const sql = await freshSession()
    try {
      const [row] = await sql`
        select current_user as role, current_setting('is_superuser') as superuser,
               current_setting('hnsw.iterative_scan', true) as iterative_scan`
      expect(row).toEqual({ role: 'postgres', superuser: 'off', iterative_scan: null })
    } finally {
      await sql.end()
    }
  })

  it('redefines match_document_chunks as the latest migration defines it, on its own', async () => {
    const { file, sql: definition } = latestDefinition()
    const sql = await freshSession()
    try {
      await expect(sql.unsafe(definition), file).resolves.toBeDefined()
      const [row] = await sql`
        select proconfig from pg_proc
        where oid = 'public.match_document_chunks(extensions.vector, integer, text)'::regprocedure`
      expect(row.proconfig).toEqual(['search_path=""'])
    } finally {
      await sql.end()
    }
  })

  it('searches with the iterative scan, and leaves the setting as it found it', async () => {
    const sql = await freshSession()
    try {
      const rows = await sql.begin(async (tx) => {
        await tx`select set_config('role', 'authenticated', true)`
        const found = await tx`
          select * from public.match_document_chunks(array_fill(0, array[384])::extensions.vector, 5, 'gte-small')`
        const [after] = await tx`select current_setting('hnsw.iterative_scan') as scan`
        return { found, after }
      })
      expect(rows.found).toEqual([])
      expect(rows.after.scan).toBe('off')
    } finally {
      await sql.end()
    }
  })
})
