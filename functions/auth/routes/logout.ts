import { LogoutQuerySchema } from '../../../shared/accounts/schemas.ts'
import { logout } from '../../../shared/accounts/service.ts'
import type { App } from '../../../shared/http/app.ts'
import { userRoute } from '../../../shared/http/routes.ts'
import { accountErrors, clientAddress } from '../accounts.ts'

export const route = userRoute({
  method: 'post',
  path: '/logout',
  summary: 'Sign out: end this session (or, by scope, every session or the others)',
  request: { query: LogoutQuerySchema },
  responses: {
    204: { description: 'Signed out; the session’s refresh token no longer works' },
    503: accountErrors[503],
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    // requireUser has verified the token; Supabase Auth needs it to know which session to end.
    const accessToken = (c.req.header('authorization') ?? '').replace(/^Bearer\s+/i, '').trim()
    await logout({ ctx: { ...clientAddress(c), accessToken }, input: c.req.valid('query') })
    return c.body(null, 204)
  })
}
