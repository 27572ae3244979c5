import { createRoute } from '@hono/zod-openapi'
import { authErrorResponses } from '../../../shared/auth-function/openapi.ts'
import { LogoutQuerySchema } from '../../../shared/auth-function/schemas.ts'
import { logout } from '../../../shared/auth-function/service.ts'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'

export const route = createRoute({
  method: 'post',
  path: '/logout',
  summary: 'Sign out: end this session (or, by scope, every session or the others)',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { query: LogoutQuerySchema },
  responses: {
    204: { description: 'Signed out; the session’s refresh token no longer works' },
    ...errorResponses,
    503: authErrorResponses[503],
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    // requireUser has verified the token; Supabase Auth needs it to know which session to end.
    const accessToken = (c.req.header('authorization') ?? '').replace(/^Bearer\s+/i, '').trim()
    await logout({
      ctx: { clientAddress: c.req.header('x-forwarded-for'), accessToken },
      input: c.req.valid('query'),
    })
    return c.body(null, 204)
  })
}
