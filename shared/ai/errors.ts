// The errors the AI layer throws. They come from the HTTP kit for now and move to shared/core/ with the
// service-layer refactor: this import is the one line to change.
import { ApiError, ProviderUnavailableError } from '../http/errors.ts'

export { ApiError, ProviderUnavailableError }

/** A provider said "too many requests": the client may try again after `retryAfterSeconds`. */
export class RateLimitedError extends ApiError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('rate_limited', message, undefined, { 'Retry-After': String(retryAfterSeconds) })
    this.name = 'RateLimitedError'
  }
}
