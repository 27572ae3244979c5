import { env } from '../config.ts'

/** A profile file that does not exist, so that LangSmith never looks for the home directory. */
export const NO_LANGSMITH_PROFILE = '/nonexistent/langsmith/config.json'

/**
 * LangSmith builds a client for every LangGraph run, traced or not, and looks for a profile in
 * `~/.langsmith/config.json`: `os.homedir()`, which Deno refuses without `--allow-sys` (AI-NOTES.md).
 * Under Deno, unless the deployment names a profile file, point it at one that does not exist. Tracing
 * itself stays as configured: off unless `LANGSMITH_TRACING=true`.
 */
export function keepLangSmithOutOfHome(): void {
  const runtime = globalThis as { Deno?: unknown; process?: { env: Record<string, string | undefined> } }
  if (!runtime.Deno || !runtime.process || env('LANGSMITH_CONFIG_FILE')) return
  try {
    runtime.process.env.LANGSMITH_CONFIG_FILE = NO_LANGSMITH_PROFILE
  } catch {
    // A runtime that refuses to change its environment takes the variable from its settings instead
    // (`supabase secrets set LANGSMITH_CONFIG_FILE=...`, see .env.example).
  }
}

keepLangSmithOutOfHome()
