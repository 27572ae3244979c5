import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

const API_VERSION_HEADER = 'X-Supabase-Api-Version'
/** The first (and so far only) dated error format; older or missing versions get the legacy body. */
const API_VERSION_2024_01_01 = '2024-01-01'

/** One GoTrue error: its HTTP status, its `error_code` and its message, as internal/api/apierrors has them. */
export class AuthError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly extra: { weakPasswordReasons?: string[]; retryAfterSeconds?: number } = {},
  ) {
    super(message)
    this.name = 'AuthError'
  }
}

export const badRequest = (code: string, message: string) => new AuthError(400, code, message)
export const forbidden = (code: string, message: string) => new AuthError(403, code, message)
export const unprocessable = (code: string, message: string) => new AuthError(422, code, message)

/** GoTrue answers in the 2024-01-01 format when the client asks for that date or a later one. */
function wantsDatedFormat(c: Context): boolean {
  const requested = c.req.header(API_VERSION_HEADER)
  return !!requested && /^\d{4}-\d{2}-\d{2}$/.test(requested) && requested >= API_VERSION_2024_01_01
}

/**
 * The error body GoTrue sends (internal/api/errors.go): `{code, message}` plus the echoed version
 * header for 2024-01-01 clients, `{code: status, error_code, msg}` for older ones.
 */
export function errorResponse(c: Context, error: AuthError): Response {
  const { status, code, message, extra } = error
  c.header('x-sb-error-code', code)
  if (extra.retryAfterSeconds !== undefined) c.header('Retry-After', String(extra.retryAfterSeconds))
  const weakPassword = extra.weakPasswordReasons
    ? { weak_password: { reasons: extra.weakPasswordReasons } }
    : {}
  if (wantsDatedFormat(c)) {
    c.header(API_VERSION_HEADER, API_VERSION_2024_01_01)
    return c.json({ code, message, ...weakPassword }, status)
  }
  return c.json({ code: status, error_code: code, msg: message, ...weakPassword }, status)
}
