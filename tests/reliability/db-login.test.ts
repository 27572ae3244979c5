import postgres from 'postgres'
import { afterAll, describe, expect, it } from 'vitest'
import { cliDbUrl, supabaseCli } from '../../scripts/stack/migrate.ts'
import { stack } from '../helpers/stack.ts'

// The local Postgres port checks the password of the role a client names and logs it in as that
// role, as hosted Supabase's does (issue 12, point 5).

const clients: postgres.Sql[] = []
afterAll(async () => {
  await Promise.all(clients.map((sql) => sql.end({ timeout: 1 })))
})

function urlAs(user: string, password = 'postgres'): string {
  const url = new URL(stack.dbUrl)
  url.username = user
  url.password = password
  return url.toString()
}

function connect(url: string): postgres.Sql {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 })
  clients.push(sql)
  return sql
}

async function loginError(url: string): Promise<{ code?: string; message: string }> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 })
  try {
    await sql`select 1`
    return { message: 'logged in' }
  } catch (error) {
    return error as { code?: string; message: string }
  } finally {
    await sql.end({ timeout: 1 })
  }
}

describe('logging in to the local database', () => {
  it('refuses a wrong password, as PostgreSQL does', async () => {
    const error = await loginError(urlAs('postgres', 'not-the-password'))
    expect(error.code).toBe('28P01')
    expect(error.message).toBe('password authentication failed for user "postgres"')
  })

  it('refuses a role that does not exist', async () => {
    expect((await loginError(urlAs('nobody'))).code).toBe('28P01')
  })

  it('refuses the API roles, which cannot log in on Supabase either', async () => {
    for (const role of ['anon', 'authenticated', 'service_role']) {
      expect((await loginError(urlAs(role))).code, role).toBe('28P01')
    }
  })

  // A PostgreSQL server of your own (--db-url) has other databases, and pg_hba.conf, not the stack,
  // decides which password verifiers it accepts; what PostgreSQL itself refuses is tested as such.
  it.runIf(stack.embeddedDatabase)('refuses another database than postgres', async () => {
    const url = new URL(stack.dbUrl)
    url.pathname = '/template1'
    expect((await loginError(url.toString())).code).toBe('3D000')
  })

  it('logs the printed URL in as postgres, which is not a superuser', async () => {
    const [row] = await connect(stack.dbUrl)`
      select current_user as role, session_user as session, current_setting('is_superuser') as superuser,
             (select rolsuper from pg_roles where rolname = current_user) as rolsuper`
    expect(row).toEqual({ role: 'postgres', session: 'postgres', superuser: 'off', rolsuper: false })
  })

  it('logs supabase_admin in as the superuser', async () => {
    const [row] = await connect(urlAs('supabase_admin'))`select current_setting('is_superuser') as superuser`
    expect(row.superuser).toBe('on')
  })

  it('lets postgres act as authenticated for a transaction, as the functions do, and no further', async () => {
    const sql = connect(stack.dbUrl)
    const inside = await sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true)`
      return (await tx`select current_user as role`)[0].role
    })
    expect(inside).toBe('authenticated')
    expect((await sql`select current_user as role`)[0].role).toBe('postgres')
  })

  it('refuses postgres the roles it is not a member of, and the session user of another', async () => {
    const sql = connect(stack.dbUrl)
    await expect(sql`set role supabase_admin`).rejects.toMatchObject({ code: '42501' })
    await expect(sql`set role supabase_auth_admin`).rejects.toMatchObject({ code: '42501' })
    await expect(sql`set session authorization supabase_admin`).rejects.toMatchObject({
      code: '42501',
      // PostgreSQL 15 names the role as well.
      message: expect.stringMatching(/^permission denied to set session authorization/),
    })
    // The refusal is an ordinary error: the connection goes on, as itself.
    const [row] = await sql`select current_user as role, current_setting('is_superuser') as superuser`
    expect(row).toEqual({ role: 'postgres', superuser: 'off' })
  })

  it.runIf(stack.embeddedDatabase)(
    'disconnects a client that becomes a superuser through dynamic SQL, and the next is not one',
    async () => {
      const sneaky = connect(stack.dbUrl)
      await sneaky
        .unsafe(`do $$ begin execute format('set session %s', 'authorization supabase_admin'); end $$`)
        .catch(() => {})
      await expect(sneaky`select current_setting('is_superuser') as superuser`).rejects.toThrow()
      const [row] = await connect(
        stack.dbUrl,
      )`select current_user as role, current_setting('is_superuser') as superuser`
      expect(row).toEqual({ role: 'postgres', superuser: 'off' })
    },
  )

  it.runIf(stack.embeddedDatabase)(
    'checks SCRAM and MD5 passwords against what PostgreSQL stored',
    async () => {
      const admin = connect(stack.dbUrl)
      const suffix = crypto.randomUUID().slice(0, 8)
      const scram = `db_login_scram_${suffix}`
      const md5 = `db_login_md5_${suffix}`
      await admin.unsafe(`create role ${scram} login password 'scram-secret'`)
      await admin.unsafe(
        `set password_encryption = 'md5'; create role ${md5} login password 'md5-secret'; reset password_encryption`,
      )
      const asScram = postgres(urlAs(scram, 'scram-secret'), { max: 1 })
      const asMd5 = postgres(urlAs(md5, 'md5-secret'), { max: 1, onnotice: () => {} })
      try {
        const [stored] = await connect(urlAs('supabase_admin'))`
        select (select rolpassword from pg_authid where rolname = ${scram}) as scram,
               (select rolpassword from pg_authid where rolname = ${md5}) as md5`
        expect(stored.scram).toMatch(/^SCRAM-SHA-256\$/)
        expect(stored.md5).toMatch(/^md5/)
        expect((await asScram`select current_user as role`)[0].role).toBe(scram)
        expect((await asMd5`select current_user as role`)[0].role).toBe(md5)
        expect((await loginError(urlAs(scram, 'md5-secret'))).code).toBe('28P01')
        expect((await loginError(urlAs(md5, 'scram-secret'))).code).toBe('28P01')
      } finally {
        await Promise.all([asScram.end(), asMd5.end()])
        await admin.unsafe(`drop role ${scram}; drop role ${md5}`)
      }
    },
  )

  it('lets the Supabase CLI in with the printed URL, and not with a wrong password', async () => {
    await expect(supabaseCli(['migration', 'list', '--db-url', cliDbUrl(stack.dbUrl)])).resolves.toContain(
      'Local',
    )
    await expect(
      supabaseCli(['migration', 'list', '--db-url', cliDbUrl(urlAs('postgres', 'wrong'))]),
    ).rejects.toThrow(/password authentication failed/)
  })
})
