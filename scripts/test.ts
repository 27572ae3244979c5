import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { PROJECT_ROOT } from './paths.ts'

// `npm test`: every check, in order of cost. Each runs even when an earlier one failed, so one run
// shows everything that is wrong; the exit code is non-zero if any failed.
// `npm test -- --db-url <postgres url>`: pgTAP and vitest on an existing PostgreSQL, as a superuser
// (docs/adr/0033-existing-postgres.md); both read it as CONSILIUM_DB_URL.

const { values } = parseArgs({ options: { 'db-url': { type: 'string' } } })
if (values['db-url']) process.env.CONSILIUM_DB_URL = values['db-url']

const bin = (name: string) => join(PROJECT_ROOT, 'node_modules', '.bin', name)
const reportDir = join(PROJECT_ROOT, '.consilium', 'reports')
const vitestReport = join(reportDir, 'vitest.json')
const pgtapReport = join(reportDir, 'pgtap.json')

const entrypoints = readdirSync(join(PROJECT_ROOT, 'functions'))
  .map((name) => join('functions', name, 'index.ts'))
  .filter((file) => existsSync(join(PROJECT_ROOT, file)))

type Command = [command: string, args: string[]]

const steps: Array<{ name: string; commands: Command[] }> = [
  { name: 'format and lint (biome)', commands: [[bin('biome'), ['ci', '--colors=off', '.']]] },
  { name: 'type check (tsc)', commands: [[bin('tsc'), ['-p', 'tsconfig.json']]] },
  {
    // One program per function, as each is deployed: checked together, the zod types of every
    // function at once exceed the checker's instantiation depth.
    name: 'type check under Deno',
    commands: entrypoints.map((file): Command => [bin('deno'), ['check', '--quiet', file]]),
  },
  {
    name: 'database: advisors and pgTAP',
    commands: [[bin('tsx'), ['scripts/pgtap.ts', '--report', pgtapReport]]],
  },
  {
    name: 'vitest: unit, integration, end-to-end',
    commands: [
      [bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestReport}`]],
    ],
  },
]

function run(command: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: PROJECT_ROOT, stdio: 'inherit' })
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)))
    child.on('error', () => resolve(1))
  })
}

rmSync(reportDir, { recursive: true, force: true })
mkdirSync(reportDir, { recursive: true })
const failed: string[] = []
for (const step of steps) {
  const started = Date.now()
  console.log(`\n▶ ${step.name}`)
  let code = 0
  for (const [command, args] of step.commands) code ||= await run(command, args)
  console.log(`${code === 0 ? '✔' : '✘'} ${step.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`)
  if (code !== 0) failed.push(step.name)
}

function counts(file: string, passed: string, failedKey: string): [number, number] {
  if (!existsSync(file)) return [0, 0]
  const report = JSON.parse(readFileSync(file, 'utf8'))
  return [report[passed] ?? 0, report[failedKey] ?? 0]
}
const [vitestPassed, vitestFailed] = counts(vitestReport, 'numPassedTests', 'numFailedTests')
const [pgtapPassed, pgtapFailed] = counts(pgtapReport, 'passed', 'failed')

console.log(
  `\nvitest: ${vitestPassed} passed, ${vitestFailed} failed; pgTAP: ${pgtapPassed} passed, ${pgtapFailed} failed`,
)
if (failed.length) console.log(`failed checks: ${failed.join('; ')}`)
console.log(`tests: ${vitestPassed + pgtapPassed} passed, ${vitestFailed + pgtapFailed} failed`)
process.exit(failed.length ? 1 : 0)
