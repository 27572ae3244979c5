import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { runAdvisors } from './advisors.ts'
import { type Database, startDatabase } from './stack/database.ts'
import { connectDatabase } from './stack/external.ts'
import { PROJECT_ROOT } from './paths.ts'
import { applyMigrations } from './stack/migrate.ts'

// Runs the pgTAP files in supabase/tests in name order (000-helpers.sql installs the `tests`
// helpers first). Each file is sent whole as one simple-protocol query; its TAP lines come back as
// the rows of its `select plan(…)`, `select ok(…)`, … statements. Everything runs as postgres,
// which is not a superuser here either (docs/adr/0014-hosted-roles-locally.md): what passes here
// passes under `supabase test db` on a hosted project.

const TESTS_DIR = join(PROJECT_ROOT, 'supabase', 'tests')
const SEED_FILE = join(PROJECT_ROOT, 'supabase', 'seed.sql')
const TAP_LINE = /^(ok|not ok) \d+|^1\.\.\d+|^\s*#/

export interface PgTapFile {
  file: string
  planned: number
  passed: number
  failed: number
  /** The TAP lines of a file that failed, or the error that stopped it. */
  problems: string[]
}

export interface PgTapResult {
  passed: number
  failed: number
  files: PgTapFile[]
}

/** The text values of every row of every statement's result that look like TAP output. */
function tapLines(result: unknown): string[] {
  const statements = Array.isArray(result) && Array.isArray(result[0]) ? result : [result]
  const lines: string[] = []
  for (const rows of statements as Array<Array<Record<string, unknown>>>) {
    for (const row of rows) {
      for (const value of Object.values(row)) {
        if (typeof value === 'string') lines.push(...value.split('\n').filter((line) => TAP_LINE.test(line)))
      }
    }
  }
  return lines
}

function summarize(file: string, lines: string[]): PgTapFile {
  const planned = Number(lines.find((line) => line.startsWith('1..'))?.slice(3) ?? 0)
  const results = lines.filter((line) => /^(ok|not ok) \d+/.test(line))
  const failed = results.filter((line) => line.startsWith('not ok') && !line.includes('# TODO')).length
  const passed = results.length - failed
  const problems = lines.filter((line) => !/^ok \d+|^1\.\./.test(line))
  if (planned === 0 || planned !== results.length) {
    problems.push(`# planned ${planned} tests but ran ${results.length}`)
    return { file, planned, passed, failed: failed + 1, problems }
  }
  return { file, planned, passed, failed, problems: failed ? problems : [] }
}

/** Runs every test file against `dbUrl`, printing one TAP-like line per file (and what failed). */
export async function runPgTap(dbUrl: string): Promise<PgTapResult> {
  const files = readdirSync(TESTS_DIR)
    .filter((name) => name.endsWith('.sql'))
    .sort()
  // One connection: the files open their own transactions (and PGlite has one session anyway).
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} })
  const results: PgTapFile[] = []
  try {
    for (const [index, file] of files.entries()) {
      let result: PgTapFile
      try {
        result = summarize(file, tapLines(await sql.unsafe(readFileSync(join(TESTS_DIR, file), 'utf8'))))
      } catch (error) {
        // An error outside an assertion skips the rest of the file, rollback included.
        await sql.unsafe('rollback')
        result = { file, planned: 0, passed: 0, failed: 1, problems: [`# ${(error as Error).message}`] }
      }
      results.push(result)
      const status = result.failed ? 'not ok' : 'ok'
      console.log(`${status} ${index + 1} - ${file} (${result.passed}/${result.planned} passed)`)
      for (const line of result.problems) console.log(`    ${line}`)
    }
    await sql.unsafe('drop schema if exists tests cascade')
  } finally {
    await sql.end()
  }
  const passed = results.reduce((sum, r) => sum + r.passed, 0)
  const failed = results.reduce((sum, r) => sum + r.failed, 0)
  console.log(`1..${files.length}\n# pgTAP: ${passed} passed, ${failed} failed in ${files.length} files`)
  return { passed, failed, files: results }
}

// `tsx scripts/pgtap.ts [--report file.json] [--db-url <url>]`: a fresh in-memory database (or, with
// `--db-url` or CONSILIUM_DB_URL, an existing PostgreSQL as a superuser, bootstrapped as the stack
// does: ADR 0033),
// the migrations, the advisors, the seed (only into a database nothing was migrated into before),
// then the tests, all as postgres; each step runs even if the one before it found problems.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { report: { type: 'string' }, 'db-url': { type: 'string' } } })
  const problems: string[] = []
  const step = async (name: string, run: () => Promise<unknown>) => {
    try {
      await run()
      console.log(`${name}: ok`)
    } catch (error) {
      console.error(`${name}: ${(error as Error).message}`)
      problems.push(name)
    }
  }
  let database: Database | undefined
  try {
    const external = values['db-url'] || process.env.CONSILIUM_DB_URL
    database = external ? await connectDatabase(external) : await startDatabase({ port: 0 })
    const dbUrl = database.url
    console.log(`pgTAP on ${database.version}`)
    await applyMigrations(dbUrl)
    await step('advisors', () => runAdvisors(dbUrl))
    if (database.fresh) {
      await step('seed', async () => {
        const sql = postgres(dbUrl, { max: 1, onnotice: () => {} })
        await sql.unsafe(readFileSync(SEED_FILE, 'utf8')).finally(() => sql.end())
      })
    }
    await requirePgTap(dbUrl)
    const result = await runPgTap(dbUrl)
    if (values.report) writeFileSync(values.report, JSON.stringify(result, null, 2))
    if (result.failed) problems.push('pgTAP')
  } catch (error) {
    console.error((error as Error).message)
    problems.push('setup')
  } finally {
    await database?.stop()
  }
  process.exit(problems.length ? 1 : 0)
}

/** pgTAP must be installed on the server (an existing one may lack it). */
async function requirePgTap(dbUrl: string): Promise<void> {
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} })
  try {
    const [row] = await sql`select exists (select from pg_catalog.pg_extension where extname = 'pgtap') as ok`
    if (!row.ok) {
      throw new Error(
        'pgTAP is not installed on this server (on Debian: apt-get install postgresql-15-pgtap, or the ' +
          "package for the server's version); the stack creates the extension once it is there.",
      )
    }
  } finally {
    await sql.end()
  }
}
