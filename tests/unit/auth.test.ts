import { createLocalJWKSet, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Config } from '../../shared/config.ts'
import { verifiedTokenCount, verifyAccessToken } from '../../shared/http/require-user.ts'
import { DomainError } from '../../shared/core/errors.ts'

const SECRET = 'a-legacy-secret-with-at-least-32-characters'
const USER_ID = '7f1c2b9e-58a4-4a55-9f0e-2d7a4c1b3e60'

let signingKey: CryptoKey
let strangerKey: CryptoKey
let rsaKey: CryptoKey
let config: Config

const now = () => Math.floor(Date.now() / 1000)
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A token as the auth service issues it; `claims` and `header` override its parts. */
async function token(
  options: {
    claims?: Record<string, unknown>
    header?: Record<string, unknown>
    key?: CryptoKey | Uint8Array
  } = {},
) {
  const claims = {
    sub: USER_ID,
    aud: 'authenticated',
    role: 'authenticated',
    email: 'ada@example.test',
    iat: now(),
    exp: now() + 3600,
    ...options.claims,
  }
  for (const [name, value] of Object.entries(claims))
    if (value === undefined) delete claims[name as keyof typeof claims]
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'test-key', typ: 'JWT', ...options.header } as { alg: string })
    .sign(options.key ?? signingKey)
}

const hs256 = (claims: Record<string, unknown> = {}, secret = SECRET) =>
  token({ claims, header: { alg: 'HS256', kid: undefined }, key: new TextEncoder().encode(secret) })

async function rejection(jwt: string, withConfig: Config = config): Promise<DomainError> {
  const error = await verifyAccessToken(jwt, withConfig).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DomainError)
  expect((error as DomainError).code).toBe('unauthorized')
  expect((error as DomainError).status).toBe(401)
  return error as DomainError
}

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true })
  signingKey = pair.privateKey
  strangerKey = (await generateKeyPair('ES256')).privateKey
  rsaKey = (await generateKeyPair('RS256')).privateKey
  const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'test-key', alg: 'ES256', use: 'sig' }
  config = {
    supabaseUrl: 'http://127.0.0.1:1',
    dbUrl: undefined,
    jwtSecret: SECRET,
    jwks: createLocalJWKSet({ keys: [publicJwk] }),
    corsOrigins: [],
    rateLimits: { perUserPerMinute: 0, perAddressPerMinute: 0 },
  }
})

describe('verifyAccessToken accepts', () => {
  it('an ES256 token signed by a key in the JWKS', async () => {
    const claims = await verifyAccessToken(await token(), config)
    expect(claims).toMatchObject({ sub: USER_ID, role: 'authenticated', email: 'ada@example.test' })
  })

  it('an HS256 token signed with the legacy secret', async () => {
    expect((await verifyAccessToken(await hs256(), config)).sub).toBe(USER_ID)
  })

  it('an audience list that includes authenticated', async () => {
    const jwt = await token({ claims: { aud: ['authenticated', 'other'] } })
    expect((await verifyAccessToken(jwt, config)).sub).toBe(USER_ID)
  })
})

describe('verifyAccessToken refuses with 401 unauthorized', () => {
  it('a string that is not a JWT', async () => {
    for (const junk of ['', 'abc', 'a.b.c', 'eyJhbGciOiJFUzI1NiJ9.e30', '...']) await rejection(junk)
  })

  it('alg none (an unsigned token)', async () => {
    const claims = { sub: USER_ID, aud: 'authenticated', role: 'authenticated', exp: now() + 3600 }
    await rejection(`${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`)
    await rejection(`${encode({ alg: 'NONE', typ: 'JWT' })}.${encode(claims)}.`)
  })

  it('a forged signature (payload changed after signing)', async () => {
    const [header, , signature] = (await token()).split('.')
    const forged = encode({ sub: USER_ID, aud: 'authenticated', role: 'authenticated', exp: now() + 9999 })
    await rejection(`${header}.${forged}.${signature}`)
  })

  it('an ES256 token signed by a key that is not in the JWKS, even under its kid', async () => {
    await rejection(await token({ key: strangerKey }))
  })

  it('an algorithm the JWKS key is not for (RS256 under the ES256 kid)', async () => {
    await rejection(await token({ header: { alg: 'RS256' }, key: rsaKey }))
  })

  it('an HS256 token signed with another secret', async () => {
    await rejection(await hs256({}, 'not-the-secret-but-just-as-long-as-the-secret'))
  })

  it('a symmetric algorithm other than HS256 (HS512 with the right secret)', async () => {
    const jwt = await token({
      header: { alg: 'HS512', kid: undefined },
      key: new TextEncoder().encode(SECRET),
    })
    await rejection(jwt)
  })

  it('HS256 tokens when no legacy secret is configured', async () => {
    await rejection(await hs256(), { ...config, jwtSecret: undefined })
  })

  it('an expired token, saying so', async () => {
    const error = await rejection(await token({ claims: { iat: now() - 7200, exp: now() - 3600 } }))
    expect(error.message).toMatch(/expired/)
  })

  it('a token without exp', async () => {
    await rejection(await token({ claims: { exp: undefined } }))
  })

  it('a token for another audience, or none', async () => {
    await rejection(await token({ claims: { aud: 'anon' } }))
    await rejection(await token({ claims: { aud: undefined } }))
  })

  it('a token without sub, or with a sub that is not a user id', async () => {
    await rejection(await token({ claims: { sub: undefined } }))
    await rejection(await token({ claims: { sub: 'not-a-uuid' } }))
    await rejection(await token({ claims: { sub: '' } }))
  })

  it('a role other than authenticated (the anon and service_role API keys)', async () => {
    await rejection(await hs256({ role: 'anon', sub: undefined }))
    await rejection(await hs256({ role: 'service_role', sub: undefined }))
    await rejection(await token({ claims: { role: 'service_role' } }))
    await rejection(await token({ claims: { role: undefined } }))
  })

  it('a token not yet valid (nbf in the future)', async () => {
    await rejection(await token({ claims: { nbf: now() + 3600 } }))
  })
})

describe('verified tokens kept per instance', () => {
  /** The test configuration with a JWKS that counts how often a signature is checked against it. */
  function countingConfig() {
    const lookups = { count: 0 }
    const counted: Config = {
      ...config,
      jwks: (async (...args: Parameters<Config['jwks']>) => {
        lookups.count++
        return config.jwks(...args)
      }) as Config['jwks'],
    }
    return { counted, lookups }
  }

  afterEach(() => vi.useRealTimers())

  it('checks a token’s signature once, then answers from memory while it has not expired', async () => {
    const { counted, lookups } = countingConfig()
    const issued = await token({ claims: { jti: crypto.randomUUID() } })
    const first = await verifyAccessToken(issued, counted)
    const second = await verifyAccessToken(issued, counted)
    expect(second).toEqual(first)
    expect(lookups.count).toBe(1)
  })

  it('still refuses a forged or altered token after the real one is kept', async () => {
    const { counted } = countingConfig()
    const issued = await token({ claims: { jti: crypto.randomUUID() } })
    await verifyAccessToken(issued, counted)
    const [header, payload, signature] = issued.split('.')
    const altered = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`
    await expect(verifyAccessToken(altered, counted)).rejects.toMatchObject({ code: 'unauthorized' })
    const otherSub = `${header}.${encode({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: crypto.randomUUID() })}.${signature}`
    await expect(verifyAccessToken(otherSub, counted)).rejects.toMatchObject({ code: 'unauthorized' })
    await expect(verifyAccessToken(await token({ key: strangerKey }), counted)).rejects.toMatchObject({
      code: 'unauthorized',
    })
  })

  it('drops a kept token once it expires: it is refused as expired, not answered from memory', async () => {
    const { counted } = countingConfig()
    const issued = await token({ claims: { exp: now() + 60, jti: crypto.randomUUID() } })
    await verifyAccessToken(issued, counted)
    vi.useFakeTimers({ now: Date.now() + 120_000 })
    await expect(verifyAccessToken(issued, counted)).rejects.toMatchObject({
      code: 'unauthorized',
      message: 'The access token has expired',
    })
  })

  it('keeps at most a bounded number of tokens', async () => {
    for (let i = 0; i < 1050; i++) await verifyAccessToken(await hs256({ jti: String(i) }), config)
    expect(verifiedTokenCount()).toBeLessThanOrEqual(1000)
  })
})
