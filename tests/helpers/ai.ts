import { type AiConfig, setAiConfigForTests } from '../../shared/config.ts'
import type { FakeAnthropic } from './fake-anthropic.ts'
import type { FakeOpenAI } from './fake-openai.ts'

/** No provider at all, whatever the developer's environment holds. */
export const noProviders = (): AiConfig => ({
  openai: { apiKey: undefined, baseUrl: undefined },
  anthropic: { apiKey: undefined, baseUrl: undefined },
  xai: { apiKey: undefined, baseUrl: undefined },
  openrouter: { apiKey: undefined, baseUrl: undefined },
  defaultModel: undefined,
  fallbackModels: [],
  compatibleStreamUsage: true,
})

/** Configure the AI layer for a test: the fakes given, nothing else. */
export function useProviders(
  fakes: { openai?: FakeOpenAI; anthropic?: FakeAnthropic },
  overrides: Partial<AiConfig> = {},
): AiConfig {
  const config: AiConfig = {
    ...noProviders(),
    ...(fakes.openai
      ? { openai: { apiKey: fakes.openai.apiKey ?? undefined, baseUrl: fakes.openai.url } }
      : {}),
    ...(fakes.anthropic
      ? { anthropic: { apiKey: fakes.anthropic.apiKey ?? undefined, baseUrl: fakes.anthropic.url } }
      : {}),
    ...overrides,
  }
  setAiConfigForTests(config)
  return config
}
