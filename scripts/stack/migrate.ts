import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { PROJECT_ROOT } from '../paths.ts'

const run = promisify(execFile)
const SUPABASE_BIN = join(PROJECT_ROOT, 'node_modules', '.bin', 'supabase')

/** The Supabase CLI wants TLS off spelled out for a server that does not speak it. */
export function cliDbUrl(dbUrl: string): string {
  return `${dbUrl}${dbUrl.includes('?') ? '&' : '?'}sslmode=disable`
}

/** Runs the real Supabase CLI against `dbUrl`, from the project root. */
export async function supabaseCli(args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(SUPABASE_BIN, [...args, '--workdir', PROJECT_ROOT], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, SUPABASE_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
      maxBuffer: 16 * 1024 * 1024,
    })
    return stdout + stderr
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string }
    throw new Error(`supabase ${args[0]} ${args[1] ?? ''} failed:\n${e.stderr || e.stdout || e.message}`)
  }
}

/** Applies pending migrations exactly as `supabase db push` records them on a hosted project. */
export async function applyMigrations(dbUrl: string): Promise<string> {
  // --include-all: a migration merged from another branch may sort before one already applied here.
  return supabaseCli(['migration', 'up', '--include-all', '--db-url', cliDbUrl(dbUrl)])
}
