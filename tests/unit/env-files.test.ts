import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { readEnvFiles } from '../../scripts/stack/env-files.ts'
import { PROJECT_ROOT } from '../../scripts/paths.ts'

// What the local stack hands its functions from a developer's env files.

const roots: string[] = []
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true })
})

function project(files: { dotenv?: string; functionsEnv?: string }): string {
  const root = mkdtempSync(join(tmpdir(), 'consilium-env-'))
  roots.push(root)
  if (files.dotenv !== undefined) writeFileSync(join(root, '.env'), files.dotenv)
  if (files.functionsEnv !== undefined) {
    mkdirSync(join(root, 'supabase', 'functions'), { recursive: true })
    writeFileSync(join(root, 'supabase', 'functions', '.env'), files.functionsEnv)
  }
  return root
}

describe('readEnvFiles', () => {
  it('reads .env.example with every variable uncommented without taking a comment for a value', () => {
    const example = readFileSync(join(PROJECT_ROOT, '.env.example'), 'utf8')
    const uncommented = example.replace(/^# ([A-Z][A-Z0-9_]*=)/gm, '$1')
    const env = readEnvFiles(project({ dotenv: uncommented }))
    for (const [name, value] of Object.entries(env)) expect(value, name).not.toContain('#')
    expect(env).toMatchObject({
      OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1',
      OPENAI_API_KEY: '',
      CORS_ALLOWED_ORIGINS: 'http://localhost:3000,http://127.0.0.1:3000',
    })
    expect(Object.values(env).filter((value) => value.includes('#'))).toEqual([])
  })

  it('follows dotenv syntax: comments after a value, quotes, export, blank lines', () => {
    const env = readEnvFiles(
      project({
        dotenv: [
          '# a comment',
          'PLAIN=value   # why',
          'QUOTED="keeps # this"',
          "SINGLE='single'",
          'export EXPORTED=1',
          '',
          'MULTI="two\nlines"',
        ].join('\n'),
      }),
    )
    expect(env).toEqual({
      PLAIN: 'value',
      QUOTED: 'keeps # this',
      SINGLE: 'single',
      EXPORTED: '1',
      MULTI: 'two\nlines',
    })
  })

  it("lets supabase/functions/.env (the CLI's file) win over .env", () => {
    const env = readEnvFiles(
      project({
        dotenv: 'A=from-dotenv\nB=only-dotenv\n',
        functionsEnv: 'A=from-functions\nC=only-functions\n',
      }),
    )
    expect(env).toEqual({ A: 'from-functions', B: 'only-dotenv', C: 'only-functions' })
  })

  it('skips SUPABASE_ names with a warning, as the CLI does: the platform sets those', () => {
    const warnings: string[] = []
    const env = readEnvFiles(
      project({ functionsEnv: 'SUPABASE_URL=http://elsewhere\nOPENAI_API_KEY=sk-local\n' }),
      (line) => warnings.push(line),
    )
    expect(env).toEqual({ OPENAI_API_KEY: 'sk-local' })
    expect(warnings).toEqual([
      `${join('supabase', 'functions', '.env')}: env name cannot start with SUPABASE_, skipping: SUPABASE_URL`,
    ])
  })

  it('is empty without env files', () => {
    expect(readEnvFiles(project({}))).toEqual({})
  })
})
