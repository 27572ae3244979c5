import { createMiddleware } from 'hono/factory'
import { env } from '../config.ts'
import { UnauthorizedError } from '../core/errors.ts'
import type { AppEnv } from './context.ts'

// Routes the platform calls, not a user: the due check of schedules (docs/adr/0031). They take
// `Authorization: Bearer <key>` with the project's service_role key (SUPABASE_SERVICE_ROLE_KEY, which
// hosted Supabase gives every function) or SCHEDULES_CHECK_SECRET, a secret of their own that can be
// kept in Vault for pg_cron without handing it the service key. A user's access token is no key: 401.

/** The OpenAPI security scheme of these routes. */
export const SERVICE_KEY_SCHEME = 'serviceKey'
export const serviceKeyAuth = [{ [SERVICE_KEY_SCHEME]: [] }]

const encoder = new TextEncoder()

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)))
}

/** Compares digests, so the time taken says nothing about how much of a key was right. */
async function sameSecret(given: string, secret: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(given), digest(secret)])
  let difference = 0
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i]
  return difference === 0
}

/** Whether `key` is the service_role key or the schedules check secret of this deployment. */
export async function isServiceKey(key: string): Promise<boolean> {
  const secrets = [env('SUPABASE_SERVICE_ROLE_KEY'), env('SCHEDULES_CHECK_SECRET')].filter(
    (secret): secret is string => typeof secret === 'string' && secret.length >= 16,
  )
  let matched = false
  for (const secret of secrets) if (await sameSecret(key, secret)) matched = true
  return matched
}

/** Lets the request through only with the service key. */
export const requireServiceKey = createMiddleware<AppEnv>(async (c, next) => {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')
  if (!match || !(await isServiceKey(match[1]))) {
    throw new UnauthorizedError('This route takes the service key (a user’s access token is not one)')
  }
  await next()
})
