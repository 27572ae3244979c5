import { errors, SignJWT, UnsecuredJWT } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { createJwtVerifier, type JwtVerifier } from '../../scripts/stack/jwt.ts'
import { loadKeys, type StackKeys } from '../../scripts/stack/keys.ts'

// The one JWT check the gateway, GoTrue and Realtime of the local stack share.

let keys: StackKeys
let verify: JwtVerifier
beforeAll(async () => {
  keys = await loadKeys()
  verify = createJwtVerifier(keys)
})

const userToken = (claims: Record<string, unknown> = {}, expiresIn = 60) =>
  new SignJWT({ role: 'authenticated', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: keys.signingKey.kid, typ: 'JWT' })
    .setSubject('7d3f6a2e-0000-4000-8000-000000000001')
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn)
    .sign(keys.signingKey.privateKey)

describe('createJwtVerifier', () => {
  it('accepts the HS256 API keys and ES256 user tokens, with their claims', async () => {
    expect(await verify(keys.anonKey)).toMatchObject({ role: 'anon' })
    expect(await verify(keys.serviceRoleKey)).toMatchObject({ role: 'service_role' })
    expect(await verify(await userToken({ session_id: 's' }))).toMatchObject({
      role: 'authenticated',
      session_id: 's',
    })
  })

  it('refuses expired, forged, unsigned and malformed tokens with jose errors', async () => {
    await expect(verify(await userToken({}, -10))).rejects.toBeInstanceOf(errors.JWTExpired)
    const [header, payload] = (await userToken()).split('.')
    await expect(verify(`${header}.${payload}.${'A'.repeat(86)}`)).rejects.toBeInstanceOf(
      errors.JWSSignatureVerificationFailed,
    )
    const forgedKey = await new SignJWT({ role: 'service_role' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('not-the-project-secret-at-all-but-32-chars'))
    await expect(verify(forgedKey)).rejects.toBeInstanceOf(errors.JWSSignatureVerificationFailed)
    const unsigned = new UnsecuredJWT({ role: 'service_role' }).setExpirationTime('1h').encode()
    await expect(verify(unsigned)).rejects.toBeInstanceOf(errors.JOSEError)
    for (const malformed of ['', 'not.a.jwt', 'abc']) {
      await expect(verify(malformed)).rejects.toBeInstanceOf(errors.JWSInvalid)
    }
  })

  it('never takes a user token signed with a key the JWKS does not publish', async () => {
    const other = await loadKeys()
    const stranger = await new SignJWT({ role: 'authenticated' })
      .setProtectedHeader({ alg: 'ES256', kid: other.signingKey.kid })
      .setExpirationTime('1h')
      .sign(other.signingKey.privateKey)
    await expect(verify(stranger)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey)
    const sameKid = await new SignJWT({ role: 'authenticated' })
      .setProtectedHeader({ alg: 'ES256', kid: keys.signingKey.kid })
      .setExpirationTime('1h')
      .sign(other.signingKey.privateKey)
    await expect(verify(sameKid)).rejects.toBeInstanceOf(errors.JWSSignatureVerificationFailed)
  })
})
