import type { JWTPayload } from 'jose'
import type { ServiceContext } from '../db/with-user.ts'

/** A verified Supabase access token's claims (the fields this code relies on, plus the rest). */
export interface JwtClaims extends JWTPayload {
  sub: string
  role: string
  aud: string | string[]
  email?: string
  session_id?: string
  is_anonymous?: boolean
  app_metadata?: Record<string, unknown>
  user_metadata?: Record<string, unknown>
}

/** The typed context every function's Hono app shares; `claims` and `userId` are set by `requireUser`. */
export interface AppEnv {
  Variables: {
    requestId: string
    claims: JwtClaims
    userId: string
  }
}

/** The service context of an authenticated request (after `requireUser`). */
export function serviceContext(c: { var: AppEnv['Variables'] }): ServiceContext {
  return { claims: c.var.claims, userId: c.var.userId }
}
