import { errors, type JWTPayload } from 'jose'
import { createJwtVerifier } from '../jwt.ts'
import type { StackKeys } from '../keys.ts'

export type Claims = JWTPayload & { role: string; exp: number; sub?: string }

/** Why a token was refused, with hosted Realtime's error code and message. */
export class TokenError extends Error {
  constructor(
    readonly code: 'InvalidJWTToken' | 'MalformedJWT' | 'JwtSignatureError',
    message: string,
  ) {
    super(message)
  }

  /** How a join refusal states it: `Code: message`. */
  get reason(): string {
    return `${this.code}: ${this.message}`
  }
}

export type TokenVerifier = (token: string) => Promise<Claims>

/** Why a token whose session was signed out (or revoked, or ran out) is refused. */
export const SESSION_ENDED = "This token's session has ended"

/**
 * Verifies a Supabase JWT as hosted Realtime does: HS256 with the project's legacy secret (the API
 * keys, older user tokens) or an asymmetric key from the JWKS (user tokens); `role` and `exp` are
 * required.
 */
export function createTokenVerifier(keys: Pick<StackKeys, 'jwtSecret' | 'jwks'>): TokenVerifier {
  const verifyJwt = createJwtVerifier(keys)
  return async (token) => {
    let payload: JWTPayload
    try {
      payload = await verifyJwt(token.replace(/\s/g, ''))
    } catch (error) {
      if (error instanceof errors.JWTExpired) {
        const ago = Math.floor(Date.now() / 1000) - Number(error.payload.exp)
        throw new TokenError('InvalidJWTToken', `Token has expired ${ago} seconds ago`)
      }
      if (error instanceof errors.JWTClaimValidationFailed)
        throw new TokenError('InvalidJWTToken', error.message)
      if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
        throw new TokenError('MalformedJWT', 'The token provided is not a valid JWT')
      }
      throw new TokenError('JwtSignatureError', 'Failed to validate JWT signature')
    }
    if (typeof payload.role !== 'string' || typeof payload.exp !== 'number') {
      throw new TokenError('InvalidJWTToken', 'Fields `role` and `exp` are required in JWT')
    }
    return payload as Claims
  }
}
