import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseEnv } from 'node:util'

/**
 * Where a developer keeps the functions' own settings (provider keys and the like), later files
 * winning: the project's `.env` (see .env.example) and `supabase/functions/.env`, the file
 * `supabase functions serve` reads when given no `--env-file`.
 */
export const ENV_FILES = ['.env', join('supabase', 'functions', '.env')]

/**
 * The variables the env files under `root` give the functions, read as `supabase functions serve
 * --env-file` reads its file: dotenv syntax (`export`, quotes, `#` comments, also after a value),
 * and names starting with `SUPABASE_` skipped with a warning, since the platform sets those. A
 * value here wins over the same name in the shell's environment: the CLI's functions never see the
 * shell's, only the file's.
 */
export function readEnvFiles(root: string, warn: (line: string) => void = () => {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of ENV_FILES) {
    const file = join(root, name)
    if (!existsSync(file)) continue
    for (const [key, value] of Object.entries(parseEnv(readFileSync(file, 'utf8')))) {
      if (key.startsWith('SUPABASE_')) {
        warn(`${name}: env name cannot start with SUPABASE_, skipping: ${key}`)
        continue
      }
      if (value !== undefined) env[key] = value
    }
  }
  return env
}
