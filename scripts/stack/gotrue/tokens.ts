import { createLocalJWKSet, decodeProtectedHeader, errors, type JWTPayload, jwtVerify, SignJWT } from 'jose'
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
  /** Verifies a user token as GoTrue does: by `kid` against the JWKS, else HS256 with the legacy secret. */
  verify(token: string): Promise<JWTPayload>
}

/** jwt-go's wording for the failures clients can cause, so messages read like GoTrue's. */
function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'token has invalid claims: token is expired'
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'token signature is invalid'
  if (error instanceof errors.JOSEAlgNotAllowed) return 'token signing method is invalid'
  return 'token is malformed'
}

export function createTokenSigner(keys: StackKeys): TokenSigner {
  const jwks = createLocalJWKSet(keys.jwks)
  const secret = new TextEncoder().encode(keys.jwtSecret)
  const kids = new Set(keys.jwks.keys.map((key) => key.kid))

  return {
    sign: (claims) =>
      new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: keys.signingKey.kid, typ: 'JWT' })
        .sign(keys.signingKey.privateKey),

    async verify(token) {
      try {
        const header = decodeProtectedHeader(token)
        // A kid the JWKS knows picks its key; without one only the legacy HS256 secret remains.
        const { payload } =
          header.kid && kids.has(header.kid)
            ? await jwtVerify(token, jwks, { algorithms: ['ES256'] })
            : await jwtVerify(token, secret, { algorithms: ['HS256'] })
        return payload
      } catch (error) {
        throw forbidden('bad_jwt', `invalid JWT: unable to parse or verify signature, ${describe(error)}`)
      }
    },
  }
}
