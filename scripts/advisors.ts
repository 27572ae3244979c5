import { pathToFileURL } from 'node:url'
import { cliDbUrl, supabaseCli } from './stack/migrate.ts'

// Supabase's database linter (splinter, the SQL behind Studio's security and performance
// advisors), as the pinned CLI embeds it. Any WARN or ERROR finding fails; INFO findings (such as
// indexes not used yet on an empty database) do not.

export interface AdvisorFinding {
  name: string
  title: string
  level: 'ERROR' | 'WARN' | 'INFO'
  detail: string
  remediation: string
}

const LOCAL_DB_URL = 'postgresql://postgres:postgres@127.0.0.1:54322/postgres'

/** Lints the database at `dbUrl`; throws with every WARN and ERROR finding, if there are any. */
export async function runAdvisors(dbUrl: string): Promise<void> {
  const output = await supabaseCli([
    'db',
    'advisors',
    '--db-url',
    cliDbUrl(dbUrl),
    '--type',
    'all',
    '--level',
    'warn',
    '--fail-on',
    'none',
    '--output-format',
    'json',
  ])
  // The CLI prints progress lines around one line of JSON: {"results": [...]}.
  const json = output.split('\n').find((line) => line.startsWith('{'))
  if (!json) throw new Error(`supabase db advisors printed no results:\n${output}`)
  const findings = (JSON.parse(json) as { results: AdvisorFinding[] }).results
  if (findings.length === 0) return
  const lines = findings.map((f) => `${f.level} ${f.name}: ${f.detail}\n    ${f.remediation}`)
  throw new Error(`The database advisors found ${findings.length} problem(s):\n${lines.join('\n')}`)
}

// `tsx scripts/advisors.ts [db-url]`: lints a running database, by default the local stack's.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dbUrl = process.argv[2] ?? LOCAL_DB_URL
  try {
    await runAdvisors(dbUrl)
    console.log('advisors: no ERROR or WARN findings')
  } catch (error) {
    console.error((error as Error).message)
    process.exit(1)
  }
}
