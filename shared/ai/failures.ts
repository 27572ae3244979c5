import { type DomainError, ProviderUnavailableError, RateLimitedError } from './errors.ts'
import { keyVariable, type ModelRef, providerLabel } from './models.ts'

/**
 * What went wrong with a provider call, whatever the SDK: the key was refused, the provider is rate
 * limiting, it is down or did not answer in time (worth another model), or it refused the request.
 */
export type FailureKind = 'key_refused' | 'rate_limited' | 'down' | 'timeout' | 'refused'

export interface ProviderFailure {
  kind: FailureKind
  status?: number
  /** From the provider's `Retry-After` (or `retry-after-ms`), rounded up to whole seconds. */
  retryAfterSeconds?: number
  /** The provider's own words, when they are safe to pass on (never for a refused key: it may echo the key). */
  detail?: string
}

/** How long to wait when a provider rate limits without saying for how long. */
export const DEFAULT_RETRY_AFTER_SECONDS = 30

/** The model call took too long: our own deadline, or the SDK's per-request timeout. */
export class ModelTimeoutError extends Error {
  constructor(readonly afterMs: number) {
    super(`The model did not answer within ${afterMs} ms`)
    this.name = 'ModelTimeoutError'
  }
}

type ErrorLike = {
  name?: unknown
  status?: unknown
  code?: unknown
  message?: unknown
  headers?: unknown
  error?: unknown
  cause?: unknown
  response?: { status?: unknown; headers?: unknown }
}

const asObject = (value: unknown): ErrorLike | undefined =>
  typeof value === 'object' && value !== null ? (value as ErrorLike) : undefined

function statusOf(error: ErrorLike): number | undefined {
  const status = error.status ?? error.response?.status
  return typeof status === 'number' ? status : undefined
}

function header(error: ErrorLike, name: string): string | undefined {
  for (const headers of [error.headers, error.response?.headers]) {
    if (!headers || typeof headers !== 'object') continue
    if (typeof (headers as Headers).get === 'function') {
      const value = (headers as Headers).get(name)
      if (value) return value
    } else {
      const value = (headers as Record<string, unknown>)[name]
      if (typeof value === 'string') return value
    }
  }
  return undefined
}

/** `Retry-After` is seconds or an HTTP date; OpenAI also sends `retry-after-ms`. */
export function retryAfterSeconds(error: unknown): number | undefined {
  const object = asObject(error)
  if (!object) return undefined
  const ms = Number(header(object, 'retry-after-ms'))
  if (Number.isFinite(ms) && ms > 0) return Math.max(1, Math.ceil(ms / 1000))
  const raw = header(object, 'retry-after')?.trim()
  if (!raw) return undefined
  const seconds = Number(raw)
  if (Number.isFinite(seconds)) return Math.max(1, Math.ceil(seconds))
  const date = Date.parse(raw)
  return Number.isNaN(date) ? undefined : Math.max(1, Math.ceil((date - Date.now()) / 1000))
}

/** The provider's message from its error body: OpenAI `{error: {message}}`, Anthropic `{type, error: {message}}`. */
function providerMessage(error: ErrorLike): string | undefined {
  const body = asObject(error.error)
  const nested = asObject(body?.error)
  const message = nested?.message ?? body?.message
  if (typeof message === 'string' && message) return message.slice(0, 300)
  return undefined
}

const TIMEOUT_NAMES = new Set(['TimeoutError', 'APIConnectionTimeoutError', 'ModelTimeoutError'])
const ABORT_NAMES = new Set(['AbortError', 'APIUserAbortError'])

/** The SDKs' error classes do not set `name`: LangChain itself tells them apart by constructor name. */
const hasName = (error: ErrorLike, names: Set<string>) =>
  names.has(String(error.name)) ||
  names.has(String((error as { constructor?: { name?: unknown } }).constructor?.name))

/** Sort an error from LangChain or a provider SDK into what the API does about it. */
export function classifyFailure(error: unknown): ProviderFailure {
  const object = asObject(error)
  if (!object) return { kind: 'down' }
  const status = statusOf(object)
  if (hasName(object, TIMEOUT_NAMES)) return { kind: 'timeout' }
  if (status === 401 || status === 403) return { kind: 'key_refused', status }
  if (status === 429) {
    return {
      kind: 'rate_limited',
      status,
      retryAfterSeconds: retryAfterSeconds(error) ?? DEFAULT_RETRY_AFTER_SECONDS,
      detail: providerMessage(object),
    }
  }
  // A model that is not there (a wrong name, or an OpenAI-compatible server without it) is as good
  // as a model that is down: the next one may answer.
  if (status === 404 || status === 408 || (status !== undefined && status >= 500)) {
    return { kind: 'down', status, detail: providerMessage(object) }
  }
  if (status !== undefined) return { kind: 'refused', status, detail: providerMessage(object) }
  // No status: a lost connection, a refused connection or an error event in the middle of a stream.
  const message = typeof object.message === 'string' ? object.message.slice(0, 300) : undefined
  return { kind: 'down', detail: providerMessage(object) ?? message }
}

/** Whether LangChain's caller should try the same request again: only when the provider is down. */
export function isTransient(error: unknown): boolean {
  const object = asObject(error)
  if (!object) return false
  if (hasName(object, ABORT_NAMES)) return false
  const failure = classifyFailure(error)
  return failure.kind === 'timeout' || (failure.kind === 'down' && failure.status !== 404)
}

/** Whether the next model in `AI_FALLBACK_MODELS` is worth a try after this failure. */
export const worthAnotherModel = (failure: ProviderFailure): boolean =>
  failure.kind === 'down' || failure.kind === 'timeout'

function describe(failure: ProviderFailure, timeoutMs: number): string {
  switch (failure.kind) {
    case 'timeout':
      return `did not answer within ${Math.round(timeoutMs / 100) / 10} s`
    case 'down':
      return failure.status === 404
        ? 'does not know this model (404)'
        : failure.status
          ? `is unavailable (status ${failure.status})`
          : `failed${failure.detail ? `: ${failure.detail}` : ''}`
    case 'refused':
      return `refused the request (status ${failure.status}${failure.detail ? `: ${failure.detail}` : ''})`
    case 'rate_limited':
      return 'is rate limiting requests'
    case 'key_refused':
      return `refused the API key (status ${failure.status})`
  }
}

/** One failed model call, for the error a client sees and the steps of a run. */
export interface FailedAttempt {
  model: ModelRef
  failure: ProviderFailure
}

/**
 * The API error for a failed call: a refused key names its variable; a rate limit keeps `Retry-After`;
 * everything else is `provider_unavailable`, listing every model that was tried.
 */
export function toApiError(attempts: FailedAttempt[], timeoutMs: number): DomainError {
  const last = attempts[attempts.length - 1]
  const { model, failure } = last
  const who = `${providerLabel(model.provider)} (${model.name})`
  if (failure.kind === 'key_refused') {
    return new ProviderUnavailableError(`${who} refused the API key: check ${keyVariable(model.provider)}`)
  }
  if (failure.kind === 'rate_limited') {
    return new RateLimitedError(
      `${who} is rate limiting requests; try again in ${failure.retryAfterSeconds} s`,
      failure.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS,
    )
  }
  if (attempts.length === 1) return new ProviderUnavailableError(`${who} ${describe(failure, timeoutMs)}`)
  const tried = attempts.map((attempt) => `${attempt.model.name} ${describe(attempt.failure, timeoutMs)}`)
  return new ProviderUnavailableError(`No model answered: ${tried.join('; ')}`)
}
