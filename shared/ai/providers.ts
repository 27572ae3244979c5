import './langsmith.ts'
import { ChatAnthropic } from '@langchain/anthropic'
import type { BaseChatModel } from '@langchain/core/language_models/chat_models'
import { ChatOpenAI, ChatOpenAICompletions } from '@langchain/openai'
import { type AiConfig, loadAiConfig } from '../config.ts'
import { ProviderUnavailableError } from './errors.ts'
import { isTransient } from './failures.ts'
import { type ModelRef, parseModelName, providerEndpoint, providerLabel, requiredVariable } from './models.ts'

/** How a model is called. The defaults keep a failing provider from holding a run for minutes. */
export interface ModelOptions {
  temperature?: number
  maxTokens?: number
  /** Per request to the provider, until it starts answering (the SDK's own timeout). Default 30 s. */
  timeoutMs?: number
  /** Retries of a request the provider failed with 5xx, a timeout or a lost connection. Default 2. */
  maxRetries?: number
  /** Ask for token usage in a streamed answer (`stream_options.include_usage`); some servers reject it. */
  streamUsage?: boolean
  /** The `fetch` the SDK uses; chat.ts passes one that watches for the provider's answer. */
  fetch?: typeof fetch
}

export const DEFAULT_TIMEOUT_MS = 30_000
export const DEFAULT_MAX_RETRIES = 2

/** OpenRouter's app attribution (https://openrouter.ai/docs/app-attribution). */
const OPENROUTER_HEADERS = { 'X-OpenRouter-Title': 'Consilium', 'X-Title': 'Consilium' }

/** LangChain's caller retries what this does not throw: only a provider that is down or slow. */
function retryOnlyTransient(error: unknown): void {
  if (!isTransient(error)) throw error
}

/**
 * A LangChain chat model for `provider:model`, configured from the environment only (shared/config.ts).
 * A provider that is not configured is a `provider_unavailable` error naming the variable to set.
 */
export function createChatModel(
  name: string | ModelRef,
  options: ModelOptions = {},
  config: AiConfig = loadAiConfig(),
): BaseChatModel {
  const ref = typeof name === 'string' ? parseModelName(name) : name
  if (!ref) throw new ProviderUnavailableError(`"${String(name)}" is not a provider:model name`)
  const endpoint = providerEndpoint(ref.provider, config)
  if (!endpoint) {
    throw new ProviderUnavailableError(
      `${providerLabel(ref.provider)} is not configured: set ${requiredVariable(ref.provider)}`,
    )
  }
  const common = {
    model: ref.model,
    temperature: options.temperature,
    maxTokens: options.maxTokens,
    maxRetries: options.maxRetries ?? DEFAULT_MAX_RETRIES,
    onFailedAttempt: retryOnlyTransient,
  }
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS

  if (ref.provider === 'anthropic') {
    return new ChatAnthropic({
      ...common,
      apiKey: endpoint.apiKey,
      anthropicApiUrl: endpoint.baseUrl,
      streamUsage: options.streamUsage ?? true,
      clientOptions: { timeout, fetch: options.fetch },
    })
  }

  const openai = {
    ...common,
    // The SDK wants a key even where the server needs none (Ollama, llama.cpp).
    apiKey: endpoint.apiKey ?? 'unused',
    timeout,
    streamUsage:
      options.streamUsage ?? (ref.provider === 'openai-compatible' ? config.compatibleStreamUsage : true),
    configuration: {
      baseURL: endpoint.baseUrl,
      fetch: options.fetch,
      defaultHeaders: ref.provider === 'openrouter' ? OPENROUTER_HEADERS : undefined,
    },
  }
  // OpenAI itself may pick the Responses API for some models; every other server speaks Chat Completions.
  return ref.provider === 'openai' ? new ChatOpenAI(openai) : new ChatOpenAICompletions(openai)
}
