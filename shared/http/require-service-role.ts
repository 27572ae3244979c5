import { createMiddleware } from 'hono/factory'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import { env, loadConfig } from '../config.ts'
import { UnauthorizedError } from '../core/errors.ts'
import type { AppEnv } from './context.ts'

// Routes that the platform calls, not a user: a schedule (pg_cron through pg_net on hosted Supabase,
// a timer in the local stack) with the project's service-role key. Users' tokens, the anon key and
// anything forged are refused with 401, as every other route refuses what is not a user's token.

/** Whether two strings are equal, in time that does not depend on where they differ. */
function sameSecret(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a)
  const right = new TextEncoder().encode(b)
  let difference = left.length ^ right.length
  for (let i = 0; i < Math.max(left.length, right.length); i++) difference |= (left[i] ?? 0) ^ (right[i] ?? 0)
  return difference === 0
}

/**
 * The project's service-role key: `SUPABASE_SERVICE_ROLE_KEY` itself, or a JWT of role
 * `service_role` signed with the project's JWT secret (HS256) or one of its signing keys.
 */
export async function isServiceRoleKey(token: string): Promise<boolean> {
  const key = env('SUPABASE_SERVICE_ROLE_KEY')
  if (key && sameSecret(token, key)) return true
  const config = loadConfig()
  try {
    const { alg } = decodeProtectedHeader(token)
    const { payload } =
      alg === 'HS256'
        ? config.jwtSecret
          ? await jwtVerify(token, new TextEncoder().encode(config.jwtSecret), { algorithms: ['HS256'] })
          : { payload: {} as { role?: unknown } }
        : await jwtVerify(token, config.jwks, { algorithms: ['ES256', 'RS256', 'EdDSA'] })
    return payload.role === 'service_role'
  } catch {
    return false
  }
}

/** Lets the request through only with the service-role key (`Authorization: Bearer <key>`). */
export const requireServiceRole = createMiddleware<AppEnv>(async (c, next) => {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')
  if (!match || !(await isServiceRoleKey(match[1]))) {
    throw new UnauthorizedError('This route is for the platform: the service-role key is required')
  }
  await next()
})

/** The security requirement of routes that want the service-role key. */
export const serviceRoleAuth = [{ serviceRoleKey: [] }]
