import { join } from 'node:path'
import { FunctionWorker } from '../../scripts/stack/functions/runner.ts'
import { PROJECT_ROOT } from '../../scripts/paths.ts'
import type { FakeAnthropic } from './fake-anthropic.ts'
import type { FakeOpenAI } from './fake-openai.ts'

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

/** The environment that makes the fake OpenAI the ai function's default provider. */
export const openaiEnv = (openai: FakeOpenAI) => ({
  OPENAI_API_KEY: openai.apiKey as string,
  OPENAI_BASE_URL: openai.url,
  AI_DEFAULT_MODEL: 'openai:gpt-e2e',
})

/** The environment that makes the fake Anthropic the ai function's default provider. */
export const anthropicEnv = (anthropic: FakeAnthropic) => ({
  ANTHROPIC_API_KEY: anthropic.apiKey as string,
  ANTHROPIC_BASE_URL: anthropic.url,
  AI_DEFAULT_MODEL: 'anthropic:claude-e2e',
})

/**
 * Both providers, for `describe.each`: each case's environment and its fake. The fakes are read
 * when a case runs (they start in the file's beforeAll).
 */
export const providerCases = (fakes: () => { openai: FakeOpenAI; anthropic: FakeAnthropic }) =>
  [
    { provider: 'openai', env: () => openaiEnv(fakes().openai), fake: () => fakes().openai },
    { provider: 'anthropic', env: () => anthropicEnv(fakes().anthropic), fake: () => fakes().anthropic },
  ] as const
