import type postgres from 'postgres'
import { afterAll, describe, expect } from 'vitest'
import { closeSql, getSql } from '../../shared/db/client.ts'
import { toDomainError } from '../../shared/core/errors.ts'
import { withUser, withUserStatement } from '../../shared/db/with-user.ts'
import type { JwtClaims } from '../../shared/core/context.ts'
import { it } from '../helpers/fixtures.ts'
import type { TestUser } from '../helpers/stack.ts'

const claimsOf = (user: TestUser, extra: Record<string, unknown> = {}): JwtClaims => ({
  sub: user.id,
  role: 'authenticated',
  aud: 'authenticated',
  email: user.email,
  exp: Math.floor(Date.now() / 1000) + 600,
  ...extra,
})

const fullName = async (sql: postgres.Sql, user: TestUser) =>
  (await sql`select full_name from public.profiles where id = ${user.id}`)[0].full_name as string | null

afterAll(() => closeSql())

describe('withUser', () => {
  it('runs as role authenticated with the claims Supabase’s auth helpers read', async ({ ada }) => {
    const [row] = await withUser(
      claimsOf(ada),
      (tx) =>
        tx`select current_user as role, auth.uid() as uid, auth.role() as claim_role, auth.email() as email`,
    )
    expect(row).toEqual({ role: 'authenticated', uid: ada.id, claim_role: 'authenticated', email: ada.email })
  })

  it('lets RLS decide: the user sees only their own profile', async ({ ada }) => {
    const rows = await withUser(claimsOf(ada), (tx) => tx`select id from public.profiles`)
    expect(rows.map((r) => r.id)).toEqual([ada.id])
  })

  it('binds the claims as a parameter, so quotes in them are only data', async ({ sql, ada }) => {
    const email = `o'hara'); drop table public.profiles; --@example.test`
    const [row] = await withUser(claimsOf(ada, { email }), (tx) => tx`select auth.email() as email`)
    expect(row.email).toBe(email)
    expect((await sql`select to_regclass('public.profiles') as t`)[0].t).toBe('profiles')
  })

  it('leaves nothing behind on the connection: settings are transaction-local', async ({ ada }) => {
    await withUser(claimsOf(ada), (tx) => tx`select 1`)
    const pool = getSql()
    const rows = await Promise.all(
      Array.from(
        { length: 5 },
        () => pool`select current_user as role, current_setting('request.jwt.claims', true) as claims`,
      ),
    )
    for (const row of rows) expect(row[0]).toEqual({ role: 'postgres', claims: expect.toBeOneOf(['', null]) })
  })

  it('commits what fn did', async ({ sql, ada }) => {
    await withUser(
      claimsOf(ada),
      (tx) => tx`update public.profiles set full_name = 'committed' where id = ${ada.id}`,
    )
    expect(await fullName(sql, ada)).toBe('committed')
  })

  it('rolls back everything when fn throws, and rethrows fn’s error', async ({ sql, ada }) => {
    const failure = new Error('changed my mind')
    const outcome = withUser(claimsOf(ada), async (tx) => {
      await tx`update public.profiles set full_name = 'rolled back' where id = ${ada.id}`
      throw failure
    })
    await expect(outcome).rejects.toBe(failure)
    expect(await fullName(sql, ada)).toBe('committed')
  })

  it('rolls back when a statement fails, with the Postgres error', async ({ sql, ada }) => {
    const outcome = withUser(claimsOf(ada), async (tx) => {
      await tx`update public.profiles set full_name = 'half done' where id = ${ada.id}`
      await tx`update public.profiles set full_name = ${'x'.repeat(300)} where id = ${ada.id}`
    })
    await expect(outcome).rejects.toMatchObject({ code: '23514' })
    expect(await fullName(sql, ada)).toBe('committed')
  })

  it('cannot write another user’s row', async ({ sql, ada, bob }) => {
    const before = await fullName(sql, bob)
    const rows = await withUser(
      claimsOf(ada),
      (tx) => tx`update public.profiles set full_name = 'hijacked' where id = ${bob.id} returning id`,
    )
    expect(rows).toHaveLength(0)
    expect(await fullName(sql, bob)).toBe(before)
  })

  it('joins an outer transaction instead of opening its own', async ({ sql, ada }) => {
    const outcome = withUser(claimsOf(ada), async (outer) => {
      await outer`update public.profiles set full_name = 'outer' where id = ${ada.id}`
      const [inner] = await withUser(
        claimsOf(ada),
        (tx) => tx`select full_name, txid_current() as txid from public.profiles`,
        outer,
      )
      const [mine] = await outer`select txid_current() as txid`
      expect(inner).toEqual({ full_name: 'outer', txid: mine.txid })
      throw new Error('undo both')
    })
    await expect(outcome).rejects.toThrow('undo both')
    expect(await fullName(sql, ada)).toBe('committed')
  })

  it('keeps concurrent users apart', async ({ ada, bob }) => {
    const users = [ada, bob, ada, bob, ada, bob, ada, bob, ada, bob, ada, bob]
    const seen = await Promise.all(
      users.map((user) =>
        withUser(claimsOf(user), async (tx) => (await tx`select auth.uid() as uid`)[0].uid),
      ),
    )
    expect(seen).toEqual(users.map((user) => user.id))
  })

  it('works when fn runs no query at all', async ({ ada }) => {
    expect(await withUser(claimsOf(ada), async () => 42)).toBe(42)
  })
})

describe('withUserStatement (one statement, one round trip)', () => {
  it('runs the statement as the user and commits it', async ({ sql, ada }) => {
    const rows = await withUserStatement(
      claimsOf(ada),
      (tx) =>
        tx`update public.profiles set full_name = 'one trip' where id = ${ada.id} returning auth.uid() as uid`,
    )
    expect(rows[0].uid).toBe(ada.id)
    expect(await fullName(sql, ada)).toBe('one trip')
  })

  it('keeps nothing when the statement fails (the COMMIT becomes a rollback), and rethrows its error', async ({
    sql,
    ada,
  }) => {
    const outcome = withUserStatement(
      claimsOf(ada),
      (tx) => tx`update public.profiles set full_name = ${'x'.repeat(300)} where id = ${ada.id}`,
    )
    await expect(outcome).rejects.toMatchObject({ code: '23514' })
    expect(await fullName(sql, ada)).toBe('one trip')
    const [{ role }] = await withUserStatement(claimsOf(ada), (tx) => tx`select current_user::text as role`)
    expect(role).toBe('authenticated')
  })

  it('keeps nothing for a session that has ended: the check raises inside the transaction (401)', async ({
    sql,
    ada,
  }) => {
    const ended = claimsOf(ada, { session_id: crypto.randomUUID() })
    const outcome = withUserStatement(
      ended,
      (tx) => tx`update public.profiles set full_name = 'after sign-out' where id = ${ada.id}`,
    )
    const error = await outcome.then(
      () => undefined,
      (thrown: unknown) => thrown,
    )
    expect(toDomainError(error)).toMatchObject({ code: 'unauthorized', status: 401 })
    expect(await fullName(sql, ada)).toBe('one trip')
    const multi = withUser(
      ended,
      (tx) => tx`update public.profiles set full_name = 'nor here' where id = ${ada.id}`,
    )
    expect(toDomainError(await multi.catch((thrown: unknown) => thrown))).toMatchObject({
      code: 'unauthorized',
    })
    expect(await fullName(sql, ada)).toBe('one trip')
  })

  it('leaves the connection clean and keeps concurrent users apart', async ({ ada, bob }) => {
    const users = [ada, bob, ada, bob, ada, bob, ada, bob]
    const seen = await Promise.all(
      users.map(
        async (user) =>
          (await withUserStatement(claimsOf(user), (tx) => tx`select auth.uid() as uid`))[0].uid,
      ),
    )
    expect(seen).toEqual(users.map((user) => user.id))
    const [row] = await getSql()`select current_setting('request.jwt.claims', true) as claims`
    expect(row.claims).toBeOneOf(['', null])
  })
})
