import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type JWK, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FunctionWorker } from '../../scripts/stack/functions/runner.ts'
import { createGateway } from '../../scripts/stack/gateway.ts'
import { functionEnv } from '../../scripts/stack/index.ts'
import type { StackKeys } from '../../scripts/stack/keys.ts'
import { PROJECT_ROOT } from '../../scripts/paths.ts'
import { createUser, stack } from '../helpers/stack.ts'

// The gateway's own check for a function declared with verify_jwt = true (every function of this
// project declares it off, ADR 0006, so the stack's gateway never runs it): the `users` function
// served once more behind a gateway that checks tokens with the stack's one JWT verifier.

const keys = {
  jwtSecret: stack.jwtSecret,
  anonKey: stack.anonKey,
  serviceRoleKey: stack.serviceRoleKey,
  jwks: JSON.parse(stack.jwks) as { keys: JWK[] },
} as StackKeys
const worker = new FunctionWorker(
  { name: 'users', entrypoint: join(PROJECT_ROOT, 'functions', 'users', 'index.ts'), verifyJwt: true },
  { env: functionEnv(stack.apiUrl, stack.dbUrl, keys) },
)
const gateway = createGateway({ host: '127.0.0.1', port: 0, keys, functions: new Map([['users', worker]]) })
let base = ''

beforeAll(async () => {
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/functions/v1/users`
  await worker.whenReady()
})
afterAll(async () => {
  gateway.closeAllConnections()
  await new Promise<void>((resolve) => gateway.close(() => resolve()))
  await worker.stop()
})

const health = (authorization?: string) =>
  fetch(`${base}/health`, { headers: authorization ? { authorization } : {} })

describe('a function with verify_jwt = true', () => {
  it('passes the API keys, their sb_ forms and user tokens on to the function', async () => {
    const user = await createUser('verified')
    for (const token of [stack.anonKey, stack.serviceRoleKey, 'sb_publishable_x', user.token]) {
      expect((await health(`Bearer ${token}`)).status).toBe(200)
    }
  })

  it('answers 401 Invalid JWT for no token, a forged one and one signed with another secret', async () => {
    const [header, payload] = stack.anonKey.split('.')
    const otherSecret = await new SignJWT({ role: 'service_role' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-project-secret-of-at-least-32-characters'))
    for (const authorization of [undefined, `Bearer ${header}.${payload}.x`, `Bearer ${otherSecret}`]) {
      const response = await health(authorization)
      expect(response.status).toBe(401)
      expect(await response.json()).toEqual({ msg: 'Invalid JWT' })
    }
  })
})
