import { createRoute } from '@hono/zod-openapi'
import { authErrorResponses } from '../../../shared/auth-function/openapi.ts'
import { AuthResultSchema, RefreshSchema } from '../../../shared/auth-function/schemas.ts'
import { refresh } from '../../../shared/auth-function/service.ts'
import type { App } from '../../../shared/http/app.ts'
import { errorResponses } from '../../../shared/http/openapi.ts'

export const route = createRoute({
  method: 'post',
  path: '/refresh',
  summary: 'Exchange a refresh token (single use) for a new session',
  request: { body: { required: true, content: { 'application/json': { schema: RefreshSchema } } } },
  responses: {
    200: {
      description: 'The user and the new session',
      content: { 'application/json': { schema: AuthResultSchema } },
    },
    ...errorResponses,
    401: {
      description: 'The refresh token is unknown, used up or its session has ended (unauthorized)',
      content: errorResponses[401].content,
    },
    ...authErrorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const ctx = { clientAddress: c.req.header('x-forwarded-for') }
    return c.json(await refresh({ ctx, input: c.req.valid('json') }), 200)
  })
}
