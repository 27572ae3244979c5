import { type JwtClaims, type ServiceContext, userContext } from '../core/context.ts'

/** The typed context every function's Hono app shares; `claims` and `userId` are set by `requireUser`. */
export interface AppEnv {
  Variables: {
    requestId: string
    claims: JwtClaims
    userId: string
  }
}

/** The service context of an authenticated request (after `requireUser`): the user acts for themselves. */
export function serviceContext(c: { var: AppEnv['Variables'] }): ServiceContext {
  return userContext(c.var.claims)
}
