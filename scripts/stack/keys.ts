import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose'

/** The Supabase CLI's local legacy secret, which signs the anon and service_role keys. */
export const LEGACY_JWT_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long'
/** The expiry the CLI's well-known demo keys carry. */
const DEMO_KEY_EXPIRY = 1983812996

export interface SigningKey {
  kid: string
  privateJwk: JWK
  publicJwk: JWK
  privateKey: CryptoKey
}

export interface StackKeys {
  jwtSecret: string
  anonKey: string
  serviceRoleKey: string
  signingKey: SigningKey
  /** The JSON Web Key Set that verifies user access tokens: `{keys: [public keys]}`. */
  jwks: { keys: JWK[] }
}

async function apiKey(role: 'anon' | 'service_role', secret: string): Promise<string> {
  return new SignJWT({ iss: 'supabase-demo', role, exp: DEMO_KEY_EXPIRY })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(secret))
}

/**
 * The ES256 key that signs user access tokens, as the CLI keeps one per project: read from `file`
 * when it exists, created (and saved there) otherwise; without a file it lives only in memory.
 */
export async function loadSigningKey(file?: string): Promise<SigningKey> {
  let privateJwk: JWK
  if (file && existsSync(file)) {
    privateJwk = JSON.parse(readFileSync(file, 'utf8')) as JWK
  } else {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true })
    privateJwk = { ...(await exportJWK(privateKey)), kid: crypto.randomUUID(), alg: 'ES256', use: 'sig' }
    if (file) {
      mkdirSync(dirname(file), { recursive: true })
      writeFileSync(file, JSON.stringify(privateJwk, null, 2), { mode: 0o600 })
    }
  }
  const { d: _private, ...publicJwk } = privateJwk
  const privateKey = (await importJWK(privateJwk, 'ES256')) as CryptoKey
  return {
    kid: privateJwk.kid as string,
    privateJwk,
    publicJwk: { ...publicJwk, key_ops: ['verify'] },
    privateKey,
  }
}

export async function loadKeys(signingKeyFile?: string): Promise<StackKeys> {
  const signingKey = await loadSigningKey(signingKeyFile)
  return {
    jwtSecret: LEGACY_JWT_SECRET,
    anonKey: await apiKey('anon', LEGACY_JWT_SECRET),
    serviceRoleKey: await apiKey('service_role', LEGACY_JWT_SECRET),
    signingKey,
    jwks: { keys: [signingKey.publicJwk] },
  }
}
