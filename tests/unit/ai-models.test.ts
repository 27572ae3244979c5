import { afterEach, describe, expect, it, vi } from 'vitest'
import { ProviderUnavailableError } from '../../shared/ai/errors.ts'
import { classifyFailure, DEFAULT_RETRY_AFTER_SECONDS, retryAfterSeconds } from '../../shared/ai/failures.ts'
import {
  defaultModelName,
  listModels,
  modelNameSchema,
  parseModelName,
  providerEndpoint,
  resolveModels,
} from '../../shared/ai/models.ts'
import { createChatModel } from '../../shared/ai/providers.ts'
import { type AiConfig, loadAiConfig, setAiConfigForTests } from '../../shared/config.ts'
import { noProviders } from '../helpers/ai.ts'

afterEach(() => {
  vi.unstubAllEnvs()
  setAiConfigForTests(undefined)
})

const config = (overrides: Partial<AiConfig>): AiConfig => ({ ...noProviders(), ...overrides })
const key = (apiKey: string) => ({ apiKey, baseUrl: undefined })

function thrown(fn: () => unknown): Error {
  try {
    fn()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a throw')
}

describe('the AI configuration', () => {
  it('is read from the providers’ own variables', () => {
    vi.stubEnv('OPENAI_API_KEY', 'sk-1')
    vi.stubEnv('OPENAI_BASE_URL', 'http://127.0.0.1:11434/v1/')
    vi.stubEnv('ANTHROPIC_API_KEY', 'sk-ant')
    vi.stubEnv('ANTHROPIC_BASE_URL', '')
    vi.stubEnv('XAI_API_KEY', 'xai-1')
    vi.stubEnv('OPENROUTER_API_KEY', '')
    vi.stubEnv('AI_DEFAULT_MODEL', ' anthropic:claude-sonnet-4-5 ')
    vi.stubEnv('AI_FALLBACK_MODELS', 'openai:gpt-4.1-mini, xai:grok-4,,')
    vi.stubEnv('OPENAI_COMPATIBLE_STREAM_USAGE', 'FALSE')
    vi.stubEnv('AI_APPROVAL_TTL_SECONDS', '600')
    setAiConfigForTests(undefined)
    expect(loadAiConfig()).toEqual({
      openai: { apiKey: 'sk-1', baseUrl: 'http://127.0.0.1:11434/v1' },
      anthropic: { apiKey: 'sk-ant', baseUrl: undefined },
      xai: { apiKey: 'xai-1', baseUrl: undefined },
      openrouter: { apiKey: undefined, baseUrl: undefined },
      defaultModel: 'anthropic:claude-sonnet-4-5',
      fallbackModels: ['openai:gpt-4.1-mini', 'xai:grok-4'],
      compatibleStreamUsage: false,
      approvalTtlSeconds: 600,
    })
  })
})

describe('model names', () => {
  it('are provider:model, the model part keeping its own colons and slashes', () => {
    expect(parseModelName('openai-compatible:qwen3:8b')).toEqual({
      provider: 'openai-compatible',
      model: 'qwen3:8b',
      name: 'openai-compatible:qwen3:8b',
    })
    expect(parseModelName('openrouter:meta-llama/llama-3.3-70b-instruct')?.model).toBe(
      'meta-llama/llama-3.3-70b-instruct',
    )
    for (const name of ['gpt-4.1', 'mistral:large', 'openai:', ':gpt-4', ''])
      expect(parseModelName(name)).toBeUndefined()
  })

  it('are validated in request bodies', () => {
    expect(modelNameSchema.safeParse('anthropic:claude-haiku-4-5').success).toBe(true)
    const result = modelNameSchema.safeParse('claude-haiku-4-5')
    expect(result.success).toBe(false)
    expect(result.error?.issues[0].message).toMatch(
      /provider:model.*openai, anthropic, xai, openrouter, openai-compatible/,
    )
  })
})

describe('choosing models', () => {
  it('defaults to AI_DEFAULT_MODEL, else to the first configured provider’s own model', () => {
    expect(defaultModelName(config({ defaultModel: 'xai:grok-4', anthropic: key('a') }))).toBe('xai:grok-4')
    expect(defaultModelName(config({ anthropic: key('a'), xai: key('x') }))).toBe(
      'anthropic:claude-sonnet-4-5',
    )
    expect(defaultModelName(config({ openrouter: key('o') }))).toBe('openrouter:openai/gpt-4.1-mini')
    expect(
      defaultModelName(config({ openai: { apiKey: undefined, baseUrl: 'http://ollama:11434/v1' } })),
    ).toBeUndefined()
  })

  it('tries the requested model, then the fallbacks whose providers are configured', () => {
    const ai = config({
      openai: key('o'),
      anthropic: key('a'),
      defaultModel: 'openai:gpt-4.1-mini',
      fallbackModels: ['xai:grok-4', 'anthropic:claude-haiku-4-5', 'openai:gpt-4.1-mini'],
    })
    expect(resolveModels(undefined, ai).map((ref) => ref.name)).toEqual([
      'openai:gpt-4.1-mini',
      'anthropic:claude-haiku-4-5',
    ])
    // A model asked for (an agent's) is followed by the fallbacks, not by the default.
    expect(resolveModels('anthropic:claude-opus-4-1', ai).map((ref) => ref.name)).toEqual([
      'anthropic:claude-opus-4-1',
      'anthropic:claude-haiku-4-5',
      'openai:gpt-4.1-mini',
    ])
  })

  it('says which variables to set when nothing is configured', () => {
    const error = thrown(() => resolveModels(undefined, noProviders()))
    expect(error).toBeInstanceOf(ProviderUnavailableError)
    expect(error.message).toMatch(
      /OPENAI_API_KEY, ANTHROPIC_API_KEY, XAI_API_KEY or OPENROUTER_API_KEY.*OPENAI_BASE_URL/,
    )
  })

  it('says what is wrong with each model when none is usable', () => {
    const ai = config({
      openai: key('o'),
      defaultModel: 'gpt-4.1',
      fallbackModels: ['anthropic:claude-haiku-4-5'],
    })
    expect(thrown(() => resolveModels(undefined, ai)).message).toBe(
      'No usable model: AI_DEFAULT_MODEL "gpt-4.1" is not a provider:model name ' +
        '(providers: openai, anthropic, xai, openrouter, openai-compatible); anthropic:claude-haiku-4-5 needs ANTHROPIC_API_KEY',
    )
    const compatible = config({ openai: { apiKey: undefined, baseUrl: 'http://ollama:11434/v1' } })
    expect(thrown(() => resolveModels(undefined, compatible)).message).toMatch(/set AI_DEFAULT_MODEL/)
  })

  it('calls each provider at its own URL unless its *_BASE_URL says otherwise', () => {
    const ai = config({
      openai: key('o'),
      anthropic: key('a'),
      xai: key('x'),
      openrouter: { apiKey: 'r', baseUrl: 'http://proxy/v1' },
    })
    expect(providerEndpoint('openai', ai)?.baseUrl).toBe('https://api.openai.com/v1')
    expect(providerEndpoint('anthropic', ai)?.baseUrl).toBe('https://api.anthropic.com')
    expect(providerEndpoint('xai', ai)?.baseUrl).toBe('https://api.x.ai/v1')
    expect(providerEndpoint('openrouter', ai)?.baseUrl).toBe('http://proxy/v1')
    // An OpenAI-compatible server is configured by its URL alone.
    expect(providerEndpoint('openai-compatible', ai)).toBeUndefined()
  })

  it('refuses to build a model for a provider that is not configured', () => {
    setAiConfigForTests(noProviders())
    const error = thrown(() => createChatModel('anthropic:claude-haiku-4-5'))
    expect(error).toBeInstanceOf(ProviderUnavailableError)
    expect(error.message).toBe('Anthropic is not configured: set ANTHROPIC_API_KEY')
    expect(thrown(() => createChatModel('openai-compatible:llama3')).message).toMatch(/set OPENAI_BASE_URL/)
    expect(thrown(() => createChatModel('llama3')).message).toMatch(/not a provider:model name/)
  })
})

describe('the model catalog', () => {
  it('lists every provider, the configured ones with their models, and never a key or a URL', () => {
    const ai = config({
      openai: { apiKey: 'sk-secret-openai', baseUrl: 'http://10.0.0.5:8000/v1' },
      anthropic: key('sk-ant-secret'),
      defaultModel: 'anthropic:claude-haiku-4-5',
      fallbackModels: ['openai:gpt-4.1-mini', 'openai-compatible:qwen3:8b'],
    })
    const catalog = listModels(ai)
    expect(catalog.default_model).toBe('anthropic:claude-haiku-4-5')
    expect(catalog.fallback_models).toEqual(['openai:gpt-4.1-mini', 'openai-compatible:qwen3:8b'])
    expect(Object.fromEntries(catalog.providers.map((p) => [p.id, [p.configured, p.models]]))).toEqual({
      openai: [true, ['openai:gpt-4.1-mini']],
      anthropic: [true, ['anthropic:claude-haiku-4-5', 'anthropic:claude-sonnet-4-5']],
      xai: [false, []],
      openrouter: [false, []],
      'openai-compatible': [true, ['openai-compatible:qwen3:8b']],
    })
    expect(catalog.providers.find((p) => p.id === 'xai')?.variables).toEqual(['XAI_API_KEY', 'XAI_BASE_URL'])
    const text = JSON.stringify(catalog)
    for (const secret of ['sk-secret-openai', 'sk-ant-secret', '10.0.0.5']) expect(text).not.toContain(secret)
  })

  it('has no default model when nothing is configured', () => {
    const catalog = listModels(noProviders())
    expect(catalog.default_model).toBeNull()
    expect(catalog.providers.every((p) => !p.configured && p.models.length === 0)).toBe(true)
  })
})

describe('provider failures', () => {
  const apiError = (status: number, headers: Record<string, string> = {}) =>
    Object.assign(new Error('boom'), { status, headers: new Headers(headers) })

  it('read Retry-After as seconds, as an HTTP date, or as OpenAI’s retry-after-ms', () => {
    expect(retryAfterSeconds(apiError(429, { 'retry-after': '12' }))).toBe(12)
    expect(retryAfterSeconds(apiError(429, { 'retry-after': '0.2' }))).toBe(1)
    expect(retryAfterSeconds(apiError(429, { 'retry-after-ms': '2500', 'retry-after': '9' }))).toBe(3)
    const inAMinute = new Date(Date.now() + 60_000).toUTCString()
    expect(retryAfterSeconds(apiError(429, { 'retry-after': inAMinute }))).toBeGreaterThanOrEqual(59)
    expect(retryAfterSeconds(apiError(429))).toBeUndefined()
    expect(classifyFailure(apiError(429)).retryAfterSeconds).toBe(DEFAULT_RETRY_AFTER_SECONDS)
  })

  it('are sorted by what to do about them', () => {
    expect(classifyFailure(apiError(401)).kind).toBe('key_refused')
    expect(classifyFailure(apiError(403)).kind).toBe('key_refused')
    expect(classifyFailure(apiError(429)).kind).toBe('rate_limited')
    expect(classifyFailure(apiError(500)).kind).toBe('down')
    expect(classifyFailure(apiError(529)).kind).toBe('down')
    expect(classifyFailure(apiError(404)).kind).toBe('down')
    expect(classifyFailure(apiError(400)).kind).toBe('refused')
    expect(
      classifyFailure(Object.assign(new Error('Request timed out.'), { name: 'TimeoutError' })).kind,
    ).toBe('timeout')
    expect(classifyFailure(new Error('Connection error.')).kind).toBe('down')
  })
})
