import { createRoute } from '@hono/zod-openapi'
import { authErrorResponses } from '../../../shared/auth-function/openapi.ts'
import { AuthResultSchema, LoginSchema } from '../../../shared/auth-function/schemas.ts'
import { login } from '../../../shared/auth-function/service.ts'
import type { App } from '../../../shared/http/app.ts'
import { errorResponses } from '../../../shared/http/openapi.ts'

export const route = createRoute({
  method: 'post',
  path: '/login',
  summary: 'Sign in with email and password',
  request: { body: { required: true, content: { 'application/json': { schema: LoginSchema } } } },
  responses: {
    200: {
      description: 'The user and a new session',
      content: { 'application/json': { schema: AuthResultSchema } },
    },
    ...errorResponses,
    401: {
      description: 'Wrong email or password (invalid_credentials)',
      content: errorResponses[401].content,
    },
    ...authErrorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const ctx = { clientAddress: c.req.header('x-forwarded-for') }
    return c.json(await login({ ctx, input: c.req.valid('json') }), 200)
  })
}
