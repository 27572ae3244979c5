import {
  type AuthError,
  isAuthApiError,
  isAuthRetryableFetchError,
  isAuthWeakPasswordError,
} from '@supabase/supabase-js'
import { ConflictError, DomainError, ProviderUnavailableError, RateLimitedError } from '../core/errors.ts'

/** Why Supabase Auth found a password weak (GoTrue's weak_password reasons), in words. */
const WEAK_PASSWORD_REASONS: Record<string, string> = {
  length: 'is too short',
  characters: 'needs more kinds of characters',
  pwned: 'is known from data breaches',
}

/** GoTrue's answers to a refresh token it will not exchange (and the session behind it being gone). */
const REFUSED_REFRESH = new Set([
  'refresh_token_not_found',
  'refresh_token_already_used',
  'session_not_found',
  'session_expired',
  'user_not_found',
  'user_banned',
  'validation_failed',
])

/**
 * A supabase-js auth error as the envelope's error. `retryAfter` is the Retry-After Supabase Auth
 * sent with a 429, which supabase-js does not keep.
 */
export function fromAuthError(
  error: AuthError,
  action: 'register' | 'login' | 'refresh' | 'logout',
  retryAfter?: string,
) {
  if (isAuthWeakPasswordError(error)) {
    return new DomainError(
      'validation_failed',
      error.message,
      error.reasons.map((reason) => ({
        path: 'password',
        message: `Password ${WEAK_PASSWORD_REASONS[reason] ?? reason}`,
      })),
    )
  }
  if (isAuthRetryableFetchError(error) || (error.status ?? 500) >= 500) {
    return new ProviderUnavailableError('Supabase Auth is unavailable; try again shortly')
  }
  if (error.status === 429) {
    const seconds = Number(retryAfter)
    return new RateLimitedError(
      'Too many attempts; wait before trying again',
      Number.isFinite(seconds) ? seconds : 60,
    )
  }
  // supabase-js turns session_not_found into an AuthSessionMissingError, which has no code.
  if (
    action === 'refresh' &&
    (error.name === 'AuthSessionMissingError' || REFUSED_REFRESH.has(error.code ?? ''))
  ) {
    return new DomainError('unauthorized', 'The refresh token is not valid or has been used')
  }
  switch (error.code) {
    case 'invalid_credentials':
      return new DomainError('invalid_credentials', 'Invalid email or password')
    case 'email_not_confirmed':
      return new DomainError('unauthorized', 'The email address has not been confirmed yet')
    case 'user_already_exists':
    case 'email_exists':
      return new ConflictError('An account with this email address already exists')
  }
  // Anything else Supabase Auth refused with a code (a 4xx) is a problem with what the client sent;
  // an answer without one (the gateway refusing our API key) is ours, and stays a 500.
  if (isAuthApiError(error) && error.code) {
    return new DomainError('validation_failed', error.message, [{ path: '', message: error.message }])
  }
  return undefined
}
