import { type JwtClaims, type ServiceContext, userContext } from '../core/context.ts'

/** The typed context every function's Hono app shares; `claims` and `userId` are set by `requireUser`. */
export interface AppEnv {
  Variables: {
    requestId: string
    claims: JwtClaims
    userId: string
  }
}

/**
 * The service context of an authenticated request (after `requireUser`): the user acts for
 * themselves, from the address the edge gateway forwarded (its first entry is the client's).
 */
export function serviceContext(c: {
  var: AppEnv['Variables']
  req: { header(name: string): string | undefined }
}): ServiceContext {
  const address = c.req.header('x-forwarded-for')?.split(',')[0]?.trim()
  return userContext(c.var.claims, address || undefined)
}
