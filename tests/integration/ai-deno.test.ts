import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { PROJECT_ROOT } from '../../scripts/paths.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'

// The functions run under Deno: shared/ai must type-check there (deno run --check) and run with the
// permissions of a hosted edge function — LangSmith must not reach for the home directory.

let openai: FakeOpenAI
beforeAll(async () => {
  openai = await startFakeOpenAI()
})
afterAll(() => openai.close())

function runDeno(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; err: string }> {
  const deno = join(PROJECT_ROOT, 'node_modules', '.bin', 'deno')
  const args = [
    'run',
    '--check',
    '--quiet',
    `--config=${join(PROJECT_ROOT, 'deno.json')}`,
    '--allow-env',
    '--allow-net=127.0.0.1',
    script,
  ]
  return new Promise((resolve) => {
    const child = spawn(deno, args, {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1', ...env },
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    child.stderr.on('data', (chunk) => (err += chunk))
    child.on('exit', (code) => resolve({ code, out, err }))
  })
}

it('streams and runs a LangGraph graph under Deno without --allow-sys', { timeout: 180_000 }, async () => {
  openai.reply(
    { text: ['Hello', ' there'] },
    { toolCalls: [{ id: 'call_mon', name: 'calendar', args: { day: 'Monday' } }] },
    { text: 'You see the dentist at 10:00.' },
  )
  const { code, out, err } = await runDeno(join('tests', 'helpers', 'deno-ai-probe.ts'), {
    OPENAI_API_KEY: openai.apiKey ?? '',
    OPENAI_BASE_URL: openai.url,
    AI_DEFAULT_MODEL: 'openai:probe',
  })
  expect(err).toBe('')
  expect(code).toBe(0)
  expect(JSON.parse(out)).toEqual({
    deltas: ['Hello', ' there'],
    graph: [
      ['human', 'What is on Monday?'],
      ['ai', ''],
      ['tool', 'Monday: dentist at 10:00'],
      ['ai', 'You see the dentist at 10:00.'],
    ],
  })
  expect(openai.requests.at(-1)?.body.messages.at(-1)).toMatchObject({
    role: 'tool',
    tool_call_id: 'call_mon',
  })
})
