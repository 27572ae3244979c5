import { describe, expect, it } from 'vitest'
import {
  customSettingNames,
  maySetSessionState,
  parseStartupOptions,
  setsSessionAuthorization,
} from '../../scripts/stack/pg-wire.ts'

describe('what the local Postgres server reads in a query', () => {
  it('knows transaction-local set_config calls leave the session alone', () => {
    expect(
      maySetSessionState(
        `select set_config('request.jwt.claims', $1, true), set_config('role', 'authenticated', true)`,
      ),
    ).toBe(false)
    expect(maySetSessionState(`select set_config('x.y', coalesce($1, ''), true)`)).toBe(false)
    expect(maySetSessionState('select * from notes where title = $1')).toBe(false)
  })

  it('suspects every other set_config, and SET inside a dollar-quoted body', () => {
    expect(maySetSessionState(`select set_config('TimeZone', 'UTC', false)`)).toBe(true)
    expect(maySetSessionState(`select set_config('x.y', $1, $2)`)).toBe(true)
    expect(maySetSessionState(`do $$ begin execute 'set time zone ''UTC'''; end $$`)).toBe(true)
    expect(maySetSessionState(`select set_config('a.b', 'it''s, (odd)', false`)).toBe(true)
  })

  it('names the custom settings a query sets, for reading them back', () => {
    expect(
      customSettingNames(
        `select set_config('App.Marker', 'a', false); set app.other = 1; set search_path to x`,
      ),
    ).toEqual(['app.marker', 'app.other'])
  })

  it('spots SET SESSION AUTHORIZATION in its spellings, not a read of session_user', () => {
    for (const sql of [
      'set session authorization supabase_admin',
      'SET SESSION SESSION AUTHORIZATION DEFAULT',
      'reset session authorization',
      `select set_config('session_authorization', 'supabase_admin', false)`,
    ]) {
      expect(setsSessionAuthorization(sql), sql).toBe(true)
    }
    expect(setsSessionAuthorization('select session_user, current_user')).toBe(false)
  })

  it('reads -c and -- settings from a startup options parameter', () => {
    expect(
      parseStartupOptions('-c search_path=public,extensions --statement-timeout=5s -capplication_name=a\\ b'),
    ).toEqual([
      ['search_path', 'public,extensions'],
      ['statement_timeout', '5s'],
      ['application_name', 'a b'],
    ])
  })
})
