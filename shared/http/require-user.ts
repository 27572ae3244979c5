import { createMiddleware } from 'hono/factory'
import { decodeProtectedHeader, errors, jwtVerify, type JWTVerifyOptions } from 'jose'
import { type Config, loadConfig } from '../config.ts'
import type { JwtClaims } from '../core/context.ts'
import { UnauthorizedError } from '../core/errors.ts'
import type { AppEnv } from './context.ts'

/** Algorithms verified against the JWKS; HS256 is verified only against the legacy secret. */
const ASYMMETRIC_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
]
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const unauthorized = (message = 'The access token is not valid') => new UnauthorizedError(message)

/** jose's verdicts on a token the client sent; anything else (e.g. the JWKS unreachable) is our failure. */
const TOKEN_ERRORS = [
  errors.JWSSignatureVerificationFailed,
  errors.JWTClaimValidationFailed,
  errors.JOSEAlgNotAllowed,
  errors.JOSENotSupported,
  errors.JWSInvalid,
  errors.JWTInvalid,
  errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys,
]

/**
 * Tokens this instance has verified, with their claims, so a client's next request skips the
 * signature check (a quarter of a request's cost). Bounded; an entry counts only while its `exp` is
 * ahead, and only for the configuration that verified it. A hit never skips the database's session
 * check (withUser), so a signed-out session's token still stops at once; a forged or altered token
 * is another string, never in here.
 */
const VERIFIED_TOKENS_MAX = 1000
const verifiedTokens = new Map<string, { claims: JwtClaims; config: Config }>()

function cachedClaims(token: string, config: Config): JwtClaims | undefined {
  const hit = verifiedTokens.get(token)
  if (!hit) return undefined
  if (hit.config !== config || (hit.claims.exp ?? 0) * 1000 <= Date.now()) {
    verifiedTokens.delete(token)
    return undefined
  }
  return hit.claims
}

function remember(token: string, claims: JwtClaims, config: Config): void {
  // Oldest first: a Map iterates in insertion order.
  if (verifiedTokens.size >= VERIFIED_TOKENS_MAX)
    verifiedTokens.delete(verifiedTokens.keys().next().value as string)
  verifiedTokens.set(token, { claims, config })
}

/** How many verified tokens this instance keeps (tests). */
export const verifiedTokenCount = () => verifiedTokens.size

/**
 * Verifies a Supabase user access token: ES256 (or another asymmetric algorithm) against the
 * project's JWKS, HS256 against the legacy secret. The token must be for `aud: authenticated`,
 * `role: authenticated`, carry `exp`, and name the user by a UUID `sub`. A token verified before
 * by this instance, and not expired since, is answered from memory.
 */
export async function verifyAccessToken(token: string, config: Config = loadConfig()): Promise<JwtClaims> {
  const cached = cachedClaims(token, config)
  if (cached) return cached
  const claims = await verifySignature(token, config)
  remember(token, claims, config)
  return claims
}

async function verifySignature(token: string, config: Config): Promise<JwtClaims> {
  let alg: string | undefined
  try {
    alg = decodeProtectedHeader(token).alg
  } catch {
    throw unauthorized('The access token is malformed')
  }
  const options: JWTVerifyOptions = { audience: 'authenticated', requiredClaims: ['exp', 'sub'] }
  let payload: Record<string, unknown>
  try {
    if (alg === 'HS256') {
      if (!config.jwtSecret) throw unauthorized('HS256 access tokens are not accepted here')
      const secret = new TextEncoder().encode(config.jwtSecret)
      ;({ payload } = await jwtVerify(token, secret, { ...options, algorithms: ['HS256'] }))
    } else {
      ;({ payload } = await jwtVerify(token, config.jwks, { ...options, algorithms: ASYMMETRIC_ALGORITHMS }))
    }
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw unauthorized('The access token has expired')
    if (TOKEN_ERRORS.some((type) => error instanceof type)) throw unauthorized()
    throw error
  }
  if (payload.role !== 'authenticated') throw unauthorized('The access token is not a signed-in user’s')
  if (typeof payload.sub !== 'string' || !UUID.test(payload.sub)) throw unauthorized()
  if (
    payload.session_id !== undefined &&
    (typeof payload.session_id !== 'string' || !UUID.test(payload.session_id))
  ) {
    throw unauthorized()
  }
  return payload as JwtClaims
}

/** Lets the request through only with a valid user access token; sets `claims` and `userId`. */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')
  if (!match) throw unauthorized('A Bearer access token is required')
  const claims = await verifyAccessToken(match[1])
  c.set('claims', claims)
  c.set('userId', claims.sub)
  await next()
})
