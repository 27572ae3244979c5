import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultLoginLimits, type LoginLimits } from '../../scripts/stack/gotrue/login-limiter.ts'
import { newEmail, type ServedGoTrue, serveGoTrue } from '../helpers/gotrue.ts'
import { stack } from '../helpers/stack.ts'

// Password logins are limited per client address (as GoTrue does) and slowed per email. Two faults:
// a made-up X-Forwarded-For escaped the per-address limit, since the gateway's own value never
// reached the service; and ten wrong passwords for an email made even the right one 429 for five
// minutes, so anyone could lock any known account. Each test speaks from its own loopback address
// (all of 127/8 reaches the gateway), as clients on different machines would.

const PASSWORD = 'correct-horse-1'

interface Answer {
  status: number
  body: Record<string, unknown>
  retryAfter?: string
}

/** POST /auth/v1/token?grant_type=password from the local address `from`. */
function login(
  base: string,
  from: string,
  email: string,
  password: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const url = new URL(`${base}/auth/v1/token?grant_type=password`)
  const body = JSON.stringify({ email, password })
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        localAddress: from,
        headers: {
          apikey: stack.anonKey,
          'content-type': 'application/json',
          'x-supabase-api-version': '2024-01-01',
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString()),
            retryAfter: res.headers['retry-after'] as string | undefined,
          }),
        )
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

async function signUp(base: string): Promise<string> {
  const email = newEmail('limits')
  const response = await fetch(`${base}/auth/v1/signup`, {
    method: 'POST',
    headers: { apikey: stack.anonKey, 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  })
  expect(response.status).toBe(200)
  return email
}

/** A GoTrue behind its own gateway with `limits`, started before and stopped after the block. */
function limitedGoTrue(limits: Partial<LoginLimits>): { url: string } {
  const served = { url: '' } as { url: string; instance?: ServedGoTrue }
  beforeAll(async () => {
    served.instance = await serveGoTrue({ loginLimits: limits })
    served.url = served.instance.url
  })
  afterAll(() => served.instance?.close())
  return served
}

describe('the per-address login limit', () => {
  const gotrue = limitedGoTrue({ perAddress: { slowAfter: 100, blockAfter: 3 }, delayMs: 1 })

  it('counts the socket address, whatever X-Forwarded-For the client makes up', async () => {
    const email = await signUp(gotrue.url)
    for (let i = 0; i < 3; i++) {
      const forged = { 'x-forwarded-for': `203.0.113.${i + 1}, 10.0.0.${i + 1}` }
      const answer = await login(gotrue.url, '127.0.0.11', newEmail('guess'), 'wrong-password', forged)
      expect(answer).toMatchObject({ status: 400, body: { code: 'invalid_credentials' } })
    }
    const blocked = await login(gotrue.url, '127.0.0.11', email, PASSWORD, {
      'x-forwarded-for': '198.51.100.77',
    })
    expect(blocked).toMatchObject({
      status: 429,
      body: { code: 'over_request_rate_limit', message: 'Request rate limit reached' },
    })
    expect(Number(blocked.retryAfter)).toBeGreaterThan(0)
    expect(Number(blocked.retryAfter)).toBeLessThanOrEqual(defaultLoginLimits.windowSeconds)
  })

  it('refuses only the address that failed', async () => {
    const email = await signUp(gotrue.url)
    for (let i = 0; i < 3; i++) await login(gotrue.url, '127.0.0.12', newEmail('guess'), 'wrong-password')
    expect((await login(gotrue.url, '127.0.0.12', email, PASSWORD)).status).toBe(429)
    expect((await login(gotrue.url, '127.0.0.13', email, PASSWORD)).status).toBe(200)
  })
})

describe('wrong passwords for one email', () => {
  // The default thresholds, with delays short enough for a test.
  const gotrue = limitedGoTrue({ delayMs: 5, maxDelayMs: 20 })

  it('never make the right password fail: ten wrong ones, then the right one signs in', async () => {
    const email = await signUp(gotrue.url)
    for (let i = 0; i < 10; i++) {
      const answer = await login(gotrue.url, '127.0.0.21', email, `wrong-password-${i}`)
      expect(answer).toMatchObject({ status: 400, body: { code: 'invalid_credentials' } })
    }
    const rightHere = await login(gotrue.url, '127.0.0.21', email, PASSWORD)
    expect(rightHere.status).toBe(200)
    expect(rightHere.body).toMatchObject({ token_type: 'bearer', user: { email } })
    for (let i = 0; i < 10; i++) await login(gotrue.url, '127.0.0.22', email, `wrong-password-${i}`)
    expect((await login(gotrue.url, '127.0.0.23', email, PASSWORD)).status).toBe(200)
  })
})

describe('slowing a guessed-at email', () => {
  const gotrue = limitedGoTrue({ perEmail: { slowAfter: 2 }, delayMs: 2000, maxDelayMs: 2000 })

  it('holds back further wrong answers from any address, and answers the right password first', async () => {
    const email = await signUp(gotrue.url)
    for (const from of ['127.0.0.31', '127.0.0.32']) {
      expect((await login(gotrue.url, from, email, 'wrong-password')).status).toBe(400)
    }
    const order: string[] = []
    const wrong = login(gotrue.url, '127.0.0.33', email, 'wrong-password').then((answer) => {
      order.push('wrong')
      return answer
    })
    const right = login(gotrue.url, '127.0.0.34', email, PASSWORD).then((answer) => {
      order.push('right')
      return answer
    })
    expect((await right).status).toBe(200)
    expect((await wrong).status).toBe(400)
    expect(order).toEqual(['right', 'wrong'])
  })
})
