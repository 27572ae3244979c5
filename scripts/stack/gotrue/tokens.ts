import { errors, type JWTPayload, SignJWT } from 'jose'
import { createJwtVerifier } from '../jwt.ts'
import type { StackKeys } from '../keys.ts'
import { forbidden } from './errors.ts'

/** The claims GoTrue puts in an access token (internal/tokens/service.go, AccessTokenClaims). */
export interface AccessTokenClaims {
  iss: string
  sub: string
  aud: string
  exp: number
  iat: number
  email: string
  phone: string
  app_metadata: Record<string, unknown>
  user_metadata: Record<string, unknown>
  role: string
  aal: string
  amr: Array<{ method: string; timestamp: number }>
  session_id: string
  is_anonymous: boolean
}

export interface TokenSigner {
  /** Signs `claims` with the project's ES256 key, with the `kid` the JWKS publishes. */
  sign(claims: AccessTokenClaims): Promise<string>
  /** Verifies a user token: against the JWKS by `kid`, or HS256 with the legacy secret (scripts/stack/jwt.ts). */
  verify(token: string): Promise<JWTPayload>
}

/** jwt-go's wording for the failures clients can cause, so messages read like GoTrue's. */
function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'token has invalid claims: token is expired'
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'token signature is invalid'
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JWKSNoMatchingKey)
    return 'token signing method is invalid'
  return 'token is malformed'
}

export function createTokenSigner(keys: StackKeys): TokenSigner {
  const verifyJwt = createJwtVerifier(keys)

  return {
    sign: (claims) =>
      new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: keys.signingKey.kid, typ: 'JWT' })
        .sign(keys.signingKey.privateKey),

    async verify(token) {
      try {
        return await verifyJwt(token)
      } catch (error) {
        throw forbidden('bad_jwt', `invalid JWT: unable to parse or verify signature, ${describe(error)}`)
      }
    },
  }
}
