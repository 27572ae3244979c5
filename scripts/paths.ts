import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository's root: every script resolves the project's files from here. */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

/** The Supabase project folder: config.toml, migrations, seed.sql, tests (pgTAP). */
export const SUPABASE_DIR = join(PROJECT_ROOT, 'supabase')
