import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'smol-toml'
import { PROJECT_ROOT } from '../paths.ts'

export const CONFIG_TOML = join(PROJECT_ROOT, 'supabase', 'config.toml')

/** The parts of `supabase/config.toml` the local stack honours, as the Supabase CLI names them. */
export interface ProjectConfig {
  auth?: {
    jwt_expiry?: number
    refresh_token_reuse_interval?: number
    minimum_password_length?: number
  }
  functions?: Record<string, { enabled?: boolean; verify_jwt?: boolean; entrypoint?: string }>
}

export function projectConfig(path = CONFIG_TOML): ProjectConfig {
  return parse(readFileSync(path, 'utf8')) as ProjectConfig
}
