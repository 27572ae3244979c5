import { HTTPException } from 'hono/http-exception'
import { DomainError, type ErrorCode, toDomainError } from '../core/errors.ts'

// Hono's own exceptions (a body that is not JSON, too large, of another type) as the domain
// errors the envelope is made from. Every other error is mapped in core/errors.ts.

const httpExceptionCodes: Partial<Record<number, [ErrorCode, string]>> = {
  400: ['invalid_json', 'The request body is not valid JSON'],
  401: ['unauthorized', 'Authentication required'],
  404: ['not_found', 'Not found'],
  405: ['method_not_allowed', 'Method not allowed'],
  413: ['payload_too_large', 'The request body is too large'],
  415: ['unsupported_media_type', 'The request body must be application/json'],
}

/** Any thrown value as the error to answer with; `undefined` means an unexpected failure (500). */
export function toApiError(error: unknown): DomainError | undefined {
  if (error instanceof HTTPException) {
    const known = httpExceptionCodes[error.status]
    return known ? new DomainError(known[0], known[1]) : undefined
  }
  return toDomainError(error)
}
