import postgres from 'postgres'
import { describe, expect, it } from 'vitest'
import { connectDatabase, DatabaseSetupError } from '../../scripts/stack/external.ts'
import { applyMigrations } from '../../scripts/stack/migrate.ts'
import { stack } from '../helpers/stack.ts'

// `--db-url` (docs/adr/0033-existing-postgres.md): what the stack checks and bootstraps on an
// existing PostgreSQL. The server's tests run only when the suite runs on one
// (`npm test -- --db-url …`, CONSILIUM_DB_URL); they name it as a superuser.

const adminUrl = process.env.CONSILIUM_DB_URL ?? ''

describe('pointing the stack at a server', () => {
  it('refuses what is not a postgres URL, saying what it wants', async () => {
    await expect(connectDatabase('not a url')).rejects.toThrow(DatabaseSetupError)
    await expect(connectDatabase('http://127.0.0.1:5432/x')).rejects.toThrow('must be a postgresql:// URL')
  })
})

describe.skipIf(stack.embeddedDatabase)('an existing PostgreSQL', { timeout: 180_000 }, () => {
  it('refuses a role that is not a superuser, saying why one is needed', async () => {
    await expect(connectDatabase(stack.dbUrl)).rejects.toThrow(/postgres is not a superuser|a superuser/)
  })

  it('bootstraps a new database of any name, twice at once, and calls it fresh (to seed) only while nothing is migrated', async () => {
    const name = `consilium_test_${crypto.randomUUID().slice(0, 8)}`
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
    await admin.unsafe(`create database ${name}`)
    const url = new URL(adminUrl)
    url.pathname = `/${name}`
    try {
      const [a, b] = await Promise.all([connectDatabase(url.toString()), connectDatabase(url.toString())])
      expect([a.fresh, b.fresh]).toEqual([true, true])
      expect(new URL(a.url).pathname).toBe(`/${name}`)
      await applyMigrations(a.url)
      const again = await connectDatabase(url.toString())
      expect(again.fresh).toBe(false)
      const sql = postgres(again.url, { max: 1, onnotice: () => {} })
      try {
        const [row] = await sql`
          select current_user as role, current_setting('is_superuser') as superuser,
                 current_setting('TimeZone') as zone,
                 (select count(*)::int from pg_catalog.pg_extension where extname = 'vector') as vector`
        expect(row).toEqual({ role: 'postgres', superuser: 'off', zone: 'UTC', vector: 1 })
      } finally {
        await sql.end()
      }
    } finally {
      await admin.unsafe(`drop database ${name} with (force)`)
      await admin.end()
    }
  })
})
