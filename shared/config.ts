import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose'

/** The one place that reads the environment, on Deno (edge runtime) and on Node (vitest) alike. */
export function env(name: string): string | undefined {
  const runtime = globalThis as {
    Deno?: { env: { get(name: string): string | undefined } }
    process?: { env: Record<string, string | undefined> }
  }
  const value = runtime.Deno ? runtime.Deno.env.get(name) : runtime.process?.env[name]
  return value === '' ? undefined : value
}

export interface Config {
  /** Where the project's APIs live: `SUPABASE_URL`. */
  supabaseUrl: string
  /** `SUPABASE_DB_URL`; required only by code that talks to the database. */
  dbUrl: string | undefined
  /** The legacy HS256 secret (`SUPABASE_JWT_SECRET` or `JWT_SECRET`); without it HS256 tokens are refused. */
  jwtSecret: string | undefined
  /** The keys that verify asymmetric access tokens (ES256 and friends). */
  jwks: JWTVerifyGetKey
  /** Browser origins allowed by CORS; `*` allows any. */
  corsOrigins: string[]
  /**
   * Requests a user, and a client address, may make a minute (`RATE_LIMIT_PER_USER_PER_MINUTE`,
   * `RATE_LIMIT_PER_ADDRESS_PER_MINUTE`; 0 turns one off). Counted in the database, so the limits
   * hold across function instances.
   */
  rateLimits: { perUserPerMinute: number; perAddressPerMinute: number }
}

/** A whole number of at least 0 from the environment, or the default. */
function count(name: string, fallback: number): number {
  const value = Number(env(name) ?? fallback)
  return Number.isInteger(value) && value >= 0 ? value : fallback
}

/** One provider's key and base URL, by the provider SDK's own variable names. */
export interface ProviderSettings {
  apiKey: string | undefined
  baseUrl: string | undefined
}

/** The AI providers and models (shared/ai/), read apart from `Config` so that code without AI needs none of it. */
export interface AiConfig {
  /** `OPENAI_API_KEY`, `OPENAI_BASE_URL` (also any OpenAI-compatible server: Ollama, llama.cpp, vLLM). */
  openai: ProviderSettings
  /** `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`. */
  anthropic: ProviderSettings
  /** `XAI_API_KEY`, `XAI_BASE_URL`. */
  xai: ProviderSettings
  /** `OPENROUTER_API_KEY`, `OPENROUTER_BASE_URL`. */
  openrouter: ProviderSettings
  /** `AI_DEFAULT_MODEL`, a `provider:model` name such as `openai:gpt-4.1-mini`. */
  defaultModel: string | undefined
  /** `AI_FALLBACK_MODELS`, comma-separated `provider:model` names tried in order when a model is down. */
  fallbackModels: string[]
  /** `OPENAI_COMPATIBLE_STREAM_USAGE=false` for OpenAI-compatible servers that reject `stream_options`. */
  compatibleStreamUsage: boolean
  /**
   * `AI_EMBEDDING_MODEL`: the model that embeds notes and documents (`local:use-lite`,
   * `supabase:gte-small`, `openai:text-embedding-3-small`); by default gte-small where the edge
   * runtime has it, else the local model (shared/knowledge/embeddings.ts).
   */
  embeddingModel?: string
  /**
   * `AI_APPROVAL_TTL_SECONDS`: how long a run may wait for the user's approval of a change before it
   * is cancelled (`approval_expired`) and nothing it proposed runs; default 86400 (24 h). ADR 0030.
   */
  approvalTtlSeconds?: number
}

/** AI_APPROVAL_TTL_SECONDS's default: a day. */
export const DEFAULT_APPROVAL_TTL_SECONDS = 24 * 60 * 60

const LOCAL_SUPABASE_URL = 'http://127.0.0.1:54321'
/** The dev servers a local frontend usually runs on (Vite, Next.js, Expo web). */
const LOCAL_ORIGINS = [
  'http://localhost:3000',
  'http://127.0.0.1:3000',
  'http://localhost:5173',
  'http://127.0.0.1:5173',
  'http://localhost:8081',
  'http://127.0.0.1:8081',
]

/** `SUPABASE_JWKS` may hold `{"keys":[…]}` or a bare array of keys. */
function parseJwks(raw: string): JSONWebKeySet {
  const parsed = JSON.parse(raw) as JSONWebKeySet | JSONWebKeySet['keys']
  return Array.isArray(parsed) ? { keys: parsed } : parsed
}

const commaList = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)

const provider = (prefix: string): ProviderSettings => ({
  apiKey: env(`${prefix}_API_KEY`),
  baseUrl: env(`${prefix}_BASE_URL`)?.replace(/\/+$/, ''),
})

function readAiConfig(): AiConfig {
  return {
    openai: provider('OPENAI'),
    anthropic: provider('ANTHROPIC'),
    xai: provider('XAI'),
    openrouter: provider('OPENROUTER'),
    defaultModel: env('AI_DEFAULT_MODEL')?.trim() || undefined,
    fallbackModels: commaList(env('AI_FALLBACK_MODELS')),
    compatibleStreamUsage: env('OPENAI_COMPATIBLE_STREAM_USAGE')?.toLowerCase() !== 'false',
    embeddingModel: env('AI_EMBEDDING_MODEL')?.trim() || undefined,
    approvalTtlSeconds: Math.max(1, count('AI_APPROVAL_TTL_SECONDS', DEFAULT_APPROVAL_TTL_SECONDS)),
  }
}

function readConfig(): Config {
  const supabaseUrl = (env('SUPABASE_URL') ?? LOCAL_SUPABASE_URL).replace(/\/+$/, '')
  const rawJwks = env('SUPABASE_JWKS')
  const origins = env('CORS_ALLOWED_ORIGINS')
  return {
    supabaseUrl,
    dbUrl: env('SUPABASE_DB_URL'),
    jwtSecret: env('SUPABASE_JWT_SECRET') ?? env('JWT_SECRET'),
    // The remote set is fetched on first use and cached by jose, so reading config never hits the network.
    jwks: rawJwks
      ? createLocalJWKSet(parseJwks(rawJwks))
      : createRemoteJWKSet(new URL(`${supabaseUrl}/auth/v1/.well-known/jwks.json`)),
    corsOrigins: origins
      ? origins
          .split(',')
          .map((origin) => origin.trim())
          .filter(Boolean)
      : LOCAL_ORIGINS,
    rateLimits: {
      perUserPerMinute: count('RATE_LIMIT_PER_USER_PER_MINUTE', 1200),
      perAddressPerMinute: count('RATE_LIMIT_PER_ADDRESS_PER_MINUTE', 6000),
    },
  }
}

let current: Config | undefined

/** The configuration, read from the environment on first use (so tests may set the environment first). */
export function loadConfig(): Config {
  current ??= readConfig()
  return current
}

/** Tests replace parts of the configuration; `undefined` goes back to the environment. */
export function setConfigForTests(overrides: Partial<Config> | undefined): void {
  current = overrides ? { ...readConfig(), ...overrides } : undefined
}

let currentAi: AiConfig | undefined

/** The AI configuration, read from the environment on first use. */
export function loadAiConfig(): AiConfig {
  currentAi ??= readAiConfig()
  return currentAi
}

/** Tests replace parts of the AI configuration; `undefined` goes back to the environment. */
export function setAiConfigForTests(overrides: Partial<AiConfig> | undefined): void {
  currentAi = overrides ? { ...readAiConfig(), ...overrides } : undefined
}

/**
 * Where the ai function answers, for the functions that hand work to it over HTTP (chat, notes):
 * `AI_FUNCTION_URL`, else the project's `/functions/v1/ai`. Read at each call.
 */
export const aiFunctionUrl = (): string =>
  (env('AI_FUNCTION_URL') ?? `${loadConfig().supabaseUrl}/functions/v1/ai`).replace(/\/+$/, '')

/** The headers of a call to the ai function as the user: their own token, the project's anon key. */
export const asUserHeaders = (accessToken: string): Record<string, string> => ({
  authorization: `Bearer ${accessToken}`,
  apikey: env('SUPABASE_ANON_KEY') ?? accessToken,
  'content-type': 'application/json',
})
