import { join } from 'node:path'
import { FunctionWorker } from '../../scripts/stack/functions/runner.ts'
import { PROJECT_ROOT } from '../../scripts/paths.ts'

/**
 * The ai function under Deno, as the stack runs it, in a worker of a test's own, so that the test
 * can point it at its fakes: its providers are only those `env` names, whatever the developer's
 * environment holds. Call `whenReady()` for its port and `stop()` when done.
 */
export function aiFunctionWorker(env: Record<string, string>): FunctionWorker {
  return new FunctionWorker(
    { name: 'ai', entrypoint: join(PROJECT_ROOT, 'functions', 'ai', 'index.ts'), verifyJwt: false },
    {
      env: {
        OPENAI_API_KEY: '',
        OPENAI_BASE_URL: '',
        ANTHROPIC_API_KEY: '',
        ANTHROPIC_BASE_URL: '',
        XAI_API_KEY: '',
        OPENROUTER_API_KEY: '',
        AI_FALLBACK_MODELS: '',
        ...env,
      },
      log: () => {},
    },
  )
}
