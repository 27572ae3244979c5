import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { PROJECT_ROOT } from '../../scripts/paths.ts'

// The knowledge layer runs under Deno (the ai function's runtime), type-checked there, with the
// permissions the local stack gives a function: chunking, the local embedder, HTML and PDF text.

function runDeno(script: string): Promise<{ code: number | null; out: string; err: string }> {
  const deno = join(PROJECT_ROOT, 'node_modules', '.bin', 'deno')
  const args = ['run', '--check', '--quiet', `--config=${join(PROJECT_ROOT, 'deno.json')}`, '-A', script]
  return new Promise((resolve) => {
    const child = spawn(deno, args, {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1' },
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    child.stderr.on('data', (chunk) => (err += chunk))
    child.on('exit', (code) => resolve({ code, out, err }))
  })
}

it('chunks, embeds offline and extracts HTML and PDF text under Deno', { timeout: 180_000 }, async () => {
  const { code, out, err } = await runDeno(join('tests', 'helpers', 'deno-knowledge-probe.ts'))
  expect(err).toBe('')
  expect(code).toBe(0)
  expect(JSON.parse(out)).toEqual({
    chunks: [[['Garden', 'Roses'], '# Garden\n\n## Roses\n\nPrune them in March.']],
    dimensions: 512,
    nearer: true,
    pdf: [
      'Page one.\n\nPage two.',
      [
        { page: 1, start: 0, end: 9 },
        { page: 2, start: 11, end: 20 },
      ],
    ],
    html: '# Title\n\nBody',
  })
})
