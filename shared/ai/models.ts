import { z } from 'zod'
import { type AiConfig, loadAiConfig, type ProviderSettings } from '../config.ts'
import { ProviderUnavailableError } from './errors.ts'

/** The providers a model name may start with: `provider:model`. */
export const providerIds = ['openai', 'anthropic', 'xai', 'openrouter', 'openai-compatible'] as const
export type ProviderId = (typeof providerIds)[number]

/** A model named `provider:model`; the model part may itself hold colons (`openai-compatible:qwen3:8b`). */
export interface ModelRef {
  provider: ProviderId
  model: string
  /** The whole name, `provider:model`. */
  name: string
}

interface ProviderSpec {
  label: string
  /** Where the provider answers unless its `*_BASE_URL` says otherwise. */
  defaultBaseUrl: string | undefined
  /** The model used when `AI_DEFAULT_MODEL` is unset and this is the first configured provider. */
  defaultModel: string | undefined
  /** The variables that configure it, the first one required. */
  variables: [required: string, ...optional: string[]]
  settings(config: AiConfig): ProviderSettings
}

const specs: Record<ProviderId, ProviderSpec> = {
  openai: {
    label: 'OpenAI',
    defaultBaseUrl: 'https://api.openai.com/v1',
    defaultModel: 'gpt-4.1-mini',
    variables: ['OPENAI_API_KEY', 'OPENAI_BASE_URL'],
    settings: (config) => config.openai,
  },
  anthropic: {
    label: 'Anthropic',
    defaultBaseUrl: 'https://api.anthropic.com',
    defaultModel: 'claude-sonnet-4-5',
    variables: ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL'],
    settings: (config) => config.anthropic,
  },
  xai: {
    label: 'xAI',
    defaultBaseUrl: 'https://api.x.ai/v1',
    defaultModel: 'grok-4',
    variables: ['XAI_API_KEY', 'XAI_BASE_URL'],
    settings: (config) => config.xai,
  },
  openrouter: {
    label: 'OpenRouter',
    defaultBaseUrl: 'https://openrouter.ai/api/v1',
    defaultModel: 'openai/gpt-4.1-mini',
    variables: ['OPENROUTER_API_KEY', 'OPENROUTER_BASE_URL'],
    settings: (config) => config.openrouter,
  },
  // Ollama, llama.cpp, vLLM, LM Studio: the OpenAI variables, but the base URL is what is required and
  // the key is optional. No default model: what is installed there is the operator's choice.
  'openai-compatible': {
    label: 'OpenAI-compatible server',
    defaultBaseUrl: undefined,
    defaultModel: undefined,
    variables: ['OPENAI_BASE_URL', 'OPENAI_API_KEY', 'OPENAI_COMPATIBLE_STREAM_USAGE'],
    settings: (config) => config.openai,
  },
}

export const providerLabel = (provider: ProviderId): string => specs[provider].label

/** The variable without which a provider is not configured. */
export const requiredVariable = (provider: ProviderId): string => specs[provider].variables[0]

/** The variable a provider's key is read from (what to fix when the provider refuses the key). */
export const keyVariable = (provider: ProviderId): string =>
  provider === 'openai-compatible' ? 'OPENAI_API_KEY' : specs[provider].variables[0]

const isProviderId = (value: string): value is ProviderId =>
  (providerIds as readonly string[]).includes(value)

/** `provider:model` as its parts; `undefined` when the name is not of that form or the provider is unknown. */
export function parseModelName(name: string): ModelRef | undefined {
  const colon = name.indexOf(':')
  if (colon < 0) return undefined
  const provider = name.slice(0, colon).trim()
  const model = name.slice(colon + 1).trim()
  if (!isProviderId(provider) || !model) return undefined
  return { provider, model, name: `${provider}:${model}` }
}

/** A model name in a request body or an agent's settings. */
export const modelNameSchema = z
  .string()
  .max(200)
  .refine((name) => parseModelName(name) !== undefined, {
    message: `A model is named provider:model, with a provider among ${providerIds.join(', ')}`,
  })

/** What a provider needs to be called, once configured. */
export interface ProviderEndpoint {
  provider: ProviderId
  apiKey: string | undefined
  baseUrl: string
}

/** The provider's endpoint if the environment configures it, else `undefined`. */
export function providerEndpoint(
  provider: ProviderId,
  config: AiConfig = loadAiConfig(),
): ProviderEndpoint | undefined {
  const spec = specs[provider]
  const { apiKey, baseUrl } = spec.settings(config)
  if (provider === 'openai-compatible') return baseUrl ? { provider, apiKey, baseUrl } : undefined
  if (!apiKey) return undefined
  return { provider, apiKey, baseUrl: baseUrl ?? (spec.defaultBaseUrl as string) }
}

const isConfigured = (provider: ProviderId, config: AiConfig) =>
  providerEndpoint(provider, config) !== undefined

const NOTHING_CONFIGURED =
  'No AI provider is configured: set OPENAI_API_KEY, ANTHROPIC_API_KEY, XAI_API_KEY or OPENROUTER_API_KEY, ' +
  'or OPENAI_BASE_URL for an OpenAI-compatible server such as Ollama (see .env.example)'

/** The model used when none is asked for: `AI_DEFAULT_MODEL`, else the first configured provider's own default. */
export function defaultModelName(config: AiConfig = loadAiConfig()): string | undefined {
  if (config.defaultModel) return config.defaultModel
  for (const provider of providerIds) {
    const model = specs[provider].defaultModel
    if (model && isConfigured(provider, config)) return `${provider}:${model}`
  }
  return undefined
}

/**
 * The models to try for a call, in order: the one asked for (else the default), then `AI_FALLBACK_MODELS`.
 * Models of providers that are not configured are left out; if none is left, the error names what to set.
 */
export function resolveModels(requested?: string, config: AiConfig = loadAiConfig()): ModelRef[] {
  const configuredAny = providerIds.some((provider) => isConfigured(provider, config))
  const primary = requested ?? defaultModelName(config)
  if (!primary) {
    throw new ProviderUnavailableError(
      configuredAny
        ? 'No default model: set AI_DEFAULT_MODEL to a provider:model name (an OpenAI-compatible server has no default)'
        : NOTHING_CONFIGURED,
    )
  }
  const names = [primary, ...config.fallbackModels.filter((name) => name !== primary)]
  const usable: ModelRef[] = []
  const unusable: string[] = []
  for (const [index, name] of names.entries()) {
    const ref = parseModelName(name)
    if (!ref) {
      const source = index === 0 ? (requested ? 'The model' : 'AI_DEFAULT_MODEL') : 'AI_FALLBACK_MODELS'
      unusable.push(`${source} "${name}" is not a provider:model name (providers: ${providerIds.join(', ')})`)
    } else if (!isConfigured(ref.provider, config)) {
      unusable.push(`${ref.name} needs ${requiredVariable(ref.provider)}`)
    } else if (!usable.some((known) => known.name === ref.name)) {
      usable.push(ref)
    }
  }
  if (usable.length) return usable
  throw new ProviderUnavailableError(
    configuredAny ? `No usable model: ${unusable.join('; ')}` : NOTHING_CONFIGURED,
  )
}

/** One provider in the catalog: never a key or a base URL, only whether it is configured and what it offers. */
export interface ProviderListing {
  id: ProviderId
  name: string
  configured: boolean
  /** The variables that configure it (to set when it is not configured). */
  variables: string[]
  /** The models it is configured for: the default, the fallbacks and its own default model. */
  models: string[]
}

export interface ModelCatalog {
  default_model: string | null
  fallback_models: string[]
  providers: ProviderListing[]
}

/** What `GET ai/models` answers: the configured providers and models, without any secret. */
export function listModels(config: AiConfig = loadAiConfig()): ModelCatalog {
  const defaultModel = defaultModelName(config)
  const named = [defaultModel, ...config.fallbackModels]
    .map((name) => (name ? parseModelName(name) : undefined))
    .filter((ref): ref is ModelRef => ref !== undefined)
  return {
    default_model: defaultModel ?? null,
    fallback_models: config.fallbackModels,
    providers: providerIds.map((id) => {
      const configured = isConfigured(id, config)
      const own = specs[id].defaultModel
      const models = configured
        ? [
            ...new Set([
              ...named.filter((ref) => ref.provider === id).map((ref) => ref.name),
              ...(own ? [`${id}:${own}`] : []),
            ]),
          ]
        : []
      return { id, name: specs[id].label, configured, variables: [...specs[id].variables], models }
    }),
  }
}
