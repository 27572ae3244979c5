import { createLocalJWKSet, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose'
import type { StackKeys } from './keys.ts'

/** What the JWKS's keys may sign user tokens with; HS256 belongs to the legacy secret alone. */
const ASYMMETRIC_ALGORITHMS = ['ES256', 'RS256', 'EdDSA']

/** Resolves with a token's verified claims, or rejects with jose's error (`errors.*`) saying why. */
export type JwtVerifier = (token: string) => Promise<JWTPayload>

/**
 * The one way the local stack verifies a Supabase JWT (the gateway, GoTrue and Realtime alike):
 * HS256 with the project's legacy secret (the anon and service_role keys, older user tokens), any
 * other algorithm against the JWKS, which picks the key by `kid` (user tokens). Expiry and
 * not-before are checked; audiences and issuers are left to the caller, as each service has its
 * own rule. Failures stay jose's errors so each service can word them as its upstream does.
 */
export function createJwtVerifier(keys: Pick<StackKeys, 'jwtSecret' | 'jwks'>): JwtVerifier {
  const secret = new TextEncoder().encode(keys.jwtSecret)
  const jwks = createLocalJWKSet(keys.jwks)
  return async (token) => {
    let alg: string | undefined
    try {
      alg = decodeProtectedHeader(token).alg
    } catch {
      throw new errors.JWSInvalid('the token is not a JWS in compact form')
    }
    const { payload } =
      alg === 'HS256'
        ? await jwtVerify(token, secret, { algorithms: ['HS256'] })
        : await jwtVerify(token, jwks, { algorithms: ASYMMETRIC_ALGORITHMS })
    return payload
  }
}
