import { HTTPException } from 'hono/http-exception'

/** Every error code the API answers with, and its HTTP status (ARCHITECTURE.md). */
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

/** One problem with the request: where (a dotted path, '' for the whole value) and what. */
export interface ErrorDetail {
  path: string
  message: string
}

export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; details?: ErrorDetail[]; request_id: string }
}

/** The one error type the HTTP layer turns into the envelope. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    /** Extra response headers, e.g. `Retry-After` with rate_limited or `Allow` with method_not_allowed. */
    readonly headers?: Record<string, string>,
  ) {
    super(message)
    this.name = 'ApiError'
  }

  get status(): ErrorStatus {
    return errorStatus[this.code]
  }

  toJSON(requestId: string): ErrorEnvelope {
    const { code, message, details } = this
    return { error: { code, message, ...(details ? { details } : {}), request_id: requestId } }
  }
}

// Domain errors: what services throw, named for what went wrong rather than for HTTP.

export class NotFoundError extends ApiError {
  constructor(message = 'Not found') {
    super('not_found', message)
    this.name = 'NotFoundError'
  }
}

export class ConflictError extends ApiError {
  constructor(message = 'The request conflicts with the current state') {
    super('conflict', message)
    this.name = 'ConflictError'
  }
}

export class PreconditionFailedError extends ApiError {
  constructor(message = 'The resource has changed since it was read') {
    super('precondition_failed', message)
    this.name = 'PreconditionFailedError'
  }
}

export class ValidationError extends ApiError {
  constructor(details: ErrorDetail[], message = 'The request is not valid') {
    super('validation_failed', message, details)
    this.name = 'ValidationError'
  }
}

export class ProviderUnavailableError extends ApiError {
  constructor(message: string) {
    super('provider_unavailable', message)
    this.name = 'ProviderUnavailableError'
  }
}

/** A Postgres error as postgres.js reports it (duck-typed so this module needs no driver). */
interface PostgresErrorLike {
  code: string
  message: string
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
 * Postgres errors a client's input can cause, as API errors. The SQL text, constraint and column
 * names stay in the server log: the message says only what the client can act on.
 */
function fromPostgres(error: PostgresErrorLike): ApiError | undefined {
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
    case '42501':
      // A row-level security WITH CHECK failure means the row is not the user's to write: to the
      // client that is a row that does not exist. A missing grant is our bug and stays a 500.
      return /row-level security/i.test(error.message) ? new NotFoundError() : undefined
    default:
      return undefined
  }
}

const httpExceptionCodes: Partial<Record<number, [ErrorCode, string]>> = {
  400: ['invalid_json', 'The request body is not valid JSON'],
  401: ['unauthorized', 'Authentication required'],
  404: ['not_found', 'Not found'],
  405: ['method_not_allowed', 'Method not allowed'],
  413: ['payload_too_large', 'The request body is too large'],
  415: ['unsupported_media_type', 'The request body must be application/json'],
}

/** Any thrown value as the API error to answer with; `undefined` means an unexpected failure (500). */
export function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error
  if (error instanceof HTTPException) {
    const known = httpExceptionCodes[error.status]
    return known ? new ApiError(known[0], known[1]) : undefined
  }
  if (isPostgresError(error)) return fromPostgres(error)
  return undefined
}

export const internalError = (): ApiError => new ApiError('internal', 'Something went wrong on our side')
