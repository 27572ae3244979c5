import postgres from 'postgres'
import { afterAll, describe, expect, it } from 'vitest'
import { stack } from '../helpers/stack.ts'

// Every client of the local Postgres port shares PGlite's one session; what one client SETs must
// stay its own, as on a server with a backend per connection (issue 12, point 5).

const clients: postgres.Sql[] = []
afterAll(async () => {
  await Promise.all(clients.map((sql) => sql.end({ timeout: 1 })))
})

function connect(options: postgres.Options<Record<string, never>> = {}, url = stack.dbUrl): postgres.Sql {
  const sql = postgres(url, { max: 1, onnotice: () => {}, ...options })
  clients.push(sql)
  return sql
}

const SETTINGS = `
  select current_setting('TimeZone') as time_zone, current_setting('statement_timeout') as statement_timeout,
         current_setting('search_path') as search_path, current_setting('app.marker', true) as marker,
         current_user as role`

describe('session settings on the local database', () => {
  it('keep one client’s time zone, timeout, search path, custom setting and role from the next', async () => {
    const a = connect()
    const b = connect()
    const [before] = await b.unsafe(SETTINGS)
    await a.unsafe(`set time zone 'Pacific/Auckland'`)
    await a.unsafe(`set statement_timeout = '2min'`)
    await a.unsafe('set search_path to public')
    await a.unsafe(`select set_config('app.marker', 'a', false)`)
    await a.unsafe('set role authenticated')
    const [seenByB] = await b.unsafe(SETTINGS)
    // A custom setting once used in the one session reads '' after it, where a new backend has none.
    expect({ ...seenByB, marker: seenByB.marker ?? '' }).toEqual({ ...before, marker: before.marker ?? '' })
    expect(seenByB.role).toBe('postgres')
    expect(seenByB.time_zone).toBe('UTC')
  })

  it('give each client back its own settings on its next turn', async () => {
    const a = connect()
    const b = connect()
    await a.unsafe(`set time zone 'Europe/Paris'`)
    await b.unsafe(`set time zone 'America/New_York'`)
    await a.unsafe(`select set_config('app.marker', 'a', false)`)
    await b.unsafe(`select set_config('app.marker', 'b', false)`)
    await b.unsafe('set role service_role')
    for (let i = 0; i < 3; i++) {
      const [[fromA], [fromB]] = await Promise.all([a.unsafe(SETTINGS), b.unsafe(SETTINGS)])
      expect([fromA.time_zone, fromA.marker, fromA.role]).toEqual(['Europe/Paris', 'a', 'postgres'])
      expect([fromB.time_zone, fromB.marker, fromB.role]).toEqual(['America/New_York', 'b', 'service_role'])
    }
  })

  it('apply a client’s startup parameters to that client only', async () => {
    const tokyo = connect({ connection: { TimeZone: 'Asia/Tokyo', application_name: 'db-session-test' } })
    const plain = connect()
    const [[fromTokyo], [fromPlain]] = await Promise.all([
      tokyo`select current_setting('TimeZone') as tz, current_setting('application_name') as app`,
      plain`select current_setting('TimeZone') as tz, current_setting('application_name') as app`,
    ])
    expect(fromTokyo).toEqual({ tz: 'Asia/Tokyo', app: 'db-session-test' })
    expect(fromPlain.tz).toBe('UTC')
    expect(fromPlain.app).not.toBe('db-session-test')
  })

  it('start each login with its role’s settings (ALTER ROLE … SET), as PostgreSQL does', async () => {
    const url = new URL(stack.dbUrl)
    url.username = 'authenticator'
    const authenticator = connect({}, url.toString())
    const [[asAuthenticator], [asPostgres]] = await Promise.all([
      authenticator`select current_setting('statement_timeout') as timeout`,
      connect()`select current_setting('statement_timeout') as timeout, current_setting('search_path') as path`,
    ])
    expect(asAuthenticator.timeout).toBe('8s')
    expect(asPostgres).toEqual({ timeout: '0', path: '"$user", public, extensions' })
  })

  it('leave nothing behind when a client that changed them disconnects', async () => {
    const careless = postgres(stack.dbUrl, { max: 1, onnotice: () => {} })
    await careless.unsafe(`set time zone 'Asia/Kolkata'; set role anon`)
    await careless.end()
    const [row] = await connect()`select current_setting('TimeZone') as tz, current_user as role`
    expect(row).toEqual({ tz: 'UTC', role: 'postgres' })
  })

  it('keep transaction-local settings inside the transaction, for every client', async () => {
    const a = connect()
    const b = connect()
    const seen = await a.begin(async (tx) => {
      await tx`select set_config('request.jwt.claims', '{"sub":"a"}', true)`
      const during = b`select current_setting('request.jwt.claims', true) as claims`
      const [own] = await tx`select current_setting('request.jwt.claims', true) as claims`
      return { own: own.claims, during }
    })
    expect(seen.own).toBe('{"sub":"a"}')
    expect((await seen.during)[0].claims ?? '').toBe('')
  })
})
