// The errors the AI layer throws are the domain errors every verb throws (shared/core/errors.ts).
export { DomainError, ProviderUnavailableError, RateLimitedError } from '../core/errors.ts'
