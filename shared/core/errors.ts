import type { z } from 'zod'

// The errors verbs throw, whoever calls them: an HTTP route turns one into the envelope with its
// status, an agent's tool hands it back to the model as the tool's result. Nothing here knows HTTP
// beyond the status each code has always meant (ARCHITECTURE.md), which both callers report.

/** Every error code, and the status it stands for. */
export const errorStatus = {
  invalid_json: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
  rate_limited: 429,
  internal: 500,
  provider_unavailable: 503,
} as const

export type ErrorCode = keyof typeof errorStatus
export type ErrorStatus = (typeof errorStatus)[ErrorCode]

/** One problem with the input: where (a dotted path, '' for the whole value) and what. */
export interface ErrorDetail {
  path: string
  message: string
}

export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; details?: ErrorDetail[]; request_id: string }
}

/** The one error type: a code, a message the caller can act on, and details for validation. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    /** Extra response headers, e.g. `Retry-After` with rate_limited or `Allow` with method_not_allowed. */
    readonly headers?: Record<string, string>,
  ) {
    super(message)
    this.name = 'DomainError'
  }

  get status(): ErrorStatus {
    return errorStatus[this.code]
  }

  toJSON(requestId: string): ErrorEnvelope {
    const { code, message, details } = this
    return { error: { code, message, ...(details ? { details } : {}), request_id: requestId } }
  }
}

export class NotFoundError extends DomainError {
  constructor(message = 'Not found') {
    super('not_found', message)
    this.name = 'NotFoundError'
  }
}

export class ConflictError extends DomainError {
  constructor(message = 'The request conflicts with the current state') {
    super('conflict', message)
    this.name = 'ConflictError'
  }
}

export class PreconditionFailedError extends DomainError {
  constructor(message = 'The resource has changed since it was read') {
    super('precondition_failed', message)
    this.name = 'PreconditionFailedError'
  }
}

export class ValidationError extends DomainError {
  constructor(details: ErrorDetail[], message = 'The request is not valid') {
    super('validation_failed', message, details)
    this.name = 'ValidationError'
  }
}

export class UnauthorizedError extends DomainError {
  constructor(message = 'Authentication required') {
    super('unauthorized', message)
    this.name = 'UnauthorizedError'
  }
}

export class PayloadTooLargeError extends DomainError {
  constructor(message = 'The request body is too large') {
    super('payload_too_large', message)
    this.name = 'PayloadTooLargeError'
  }
}

export class RateLimitedError extends DomainError {
  constructor(
    message: string,
    /** Whole seconds until a retry may succeed. */
    readonly retryAfterSeconds: number,
  ) {
    super('rate_limited', message, undefined, {
      'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))),
    })
    this.name = 'RateLimitedError'
  }
}

export class ProviderUnavailableError extends DomainError {
  constructor(message: string) {
    super('provider_unavailable', message)
    this.name = 'ProviderUnavailableError'
  }
}

export const internalError = (): DomainError =>
  new DomainError('internal', 'Something went wrong on our side')

/** zod issues as `{path, message}` details, one per problem. */
export function issueDetails(issues: readonly z.core.$ZodIssue[]): ErrorDetail[] {
  return issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }))
}

/** A Postgres error as postgres.js reports it (duck-typed so this module needs no driver). */
interface PostgresErrorLike {
  code: string
  message: string
  detail?: string
  severity?: string
}

function isPostgresError(error: unknown): error is PostgresErrorLike {
  if (!(error instanceof Error)) return false
  const { code, name } = error as Error & { code?: unknown }
  return (
    typeof code === 'string' &&
    /^[0-9A-Z]{5}$/.test(code) &&
    (name === 'PostgresError' || 'severity' in error)
  )
}

/**
 * Postgres errors a caller's input can cause, as domain errors. The SQL text, constraint and column
 * names stay in the server log: the message says only what the caller can act on.
 */
function fromPostgres(error: PostgresErrorLike): DomainError | undefined {
  switch (error.code) {
    case '23505':
      return new ConflictError('A record with these values already exists')
    case '23503':
      return new ValidationError([{ path: '', message: 'A referenced record does not exist' }])
    case '23502':
    case '23514':
    case '23P01':
      return new ValidationError([{ path: '', message: 'A value breaks a rule of the data' }])
    case '22P02':
    case '22021':
    case '22001':
    case '22003':
    case '22007':
    case '22008':
    case '22023':
    case '2201E':
    case '22P05':
    case '54000':
      return new ValidationError([{ path: '', message: 'A value is malformed or out of range' }])
    case '40001':
    case '40P01':
      return new ConflictError('The request collided with a concurrent change; retry it')
    case 'CS429': {
      // private.count_request: over a rate limit; DETAIL is the seconds until the minute ends.
      const seconds = Number(error.detail)
      return new RateLimitedError(
        'Too many requests; wait before trying again',
        Number.isFinite(seconds) ? seconds : 60,
      )
    }
    case 'CS401':
      // private.require_live_session: the token's session has ended (signed out, or past not_after).
      return new UnauthorizedError('This session has ended; sign in again')
    case '42501':
      // A row-level security WITH CHECK failure means the row is not the user's to write: to the
      // caller that is a row that does not exist. A missing grant is our bug and stays a 500.
      return /row-level security/i.test(error.message) ? new NotFoundError() : undefined
    default:
      return undefined
  }
}

/** Any thrown value as the domain error it means; `undefined` for an unexpected failure (a 500). */
export function toDomainError(error: unknown): DomainError | undefined {
  if (error instanceof DomainError) return error
  if (isPostgresError(error)) return fromPostgres(error)
  return undefined
}
