import { afterEach, describe, expect, it, vi } from 'vitest'
import { env, loadConfig, setConfigForTests } from '../../shared/config.ts'
import { isoTimestamp } from '../../shared/db/client.ts'

afterEach(() => {
  vi.unstubAllEnvs()
  vi.unstubAllGlobals()
  setConfigForTests(undefined)
})

describe('env', () => {
  it('reads Deno.env on Deno', () => {
    vi.stubGlobal('Deno', { env: { get: (name: string) => (name === 'GREETING' ? 'from deno' : undefined) } })
    vi.stubEnv('GREETING', 'from node')
    expect(env('GREETING')).toBe('from deno')
  })

  it('reads process.env on Node, treating empty as unset', () => {
    vi.stubEnv('GREETING', 'from node')
    expect(env('GREETING')).toBe('from node')
    vi.stubEnv('GREETING', '')
    expect(env('GREETING')).toBeUndefined()
  })
})

describe('loadConfig', () => {
  it('reads the environment the functions get', () => {
    vi.stubEnv('SUPABASE_URL', 'https://ref.supabase.co/')
    vi.stubEnv('SUPABASE_DB_URL', 'postgresql://u:p@db:5432/postgres')
    vi.stubEnv('SUPABASE_JWT_SECRET', '')
    vi.stubEnv('JWT_SECRET', 'legacy')
    vi.stubEnv('CORS_ALLOWED_ORIGINS', ' https://app.example , https://admin.example,')
    setConfigForTests(undefined)
    expect(loadConfig()).toMatchObject({
      supabaseUrl: 'https://ref.supabase.co',
      dbUrl: 'postgresql://u:p@db:5432/postgres',
      jwtSecret: 'legacy',
      corsOrigins: ['https://app.example', 'https://admin.example'],
    })
  })

  it('allows local frontends by default', () => {
    vi.stubEnv('CORS_ALLOWED_ORIGINS', '')
    setConfigForTests(undefined)
    expect(loadConfig().corsOrigins).toContain('http://localhost:5173')
  })

  it('is read once, and tests can replace parts of it', () => {
    const first = loadConfig()
    expect(loadConfig()).toBe(first)
    setConfigForTests({ corsOrigins: ['*'] })
    expect(loadConfig().corsOrigins).toEqual(['*'])
    expect(loadConfig().supabaseUrl).toBe(first.supabaseUrl)
  })
})

describe('isoTimestamp', () => {
  it('keeps Postgres microseconds in ISO 8601 UTC', () => {
    expect(isoTimestamp('2026-11-25 10:20:30.123456+00')).toBe('2026-11-25T10:20:30.123456Z')
    expect(isoTimestamp('2026-11-25 10:20:30+00')).toBe('2026-11-25T10:20:30Z')
  })

  it('converts another zone to UTC', () => {
    expect(isoTimestamp('2026-11-25 12:20:30.5+02')).toBe('2026-11-25T10:20:30.500Z')
  })

  it('leaves infinity alone', () => {
    expect(isoTimestamp('infinity')).toBe('infinity')
  })
})
