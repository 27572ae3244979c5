import { createRoute } from '@hono/zod-openapi'
import { authErrorResponses } from '../../../shared/auth-function/openapi.ts'
import { AuthResultSchema, RegisterSchema } from '../../../shared/auth-function/schemas.ts'
import { register as registerUser } from '../../../shared/auth-function/service.ts'
import type { App } from '../../../shared/http/app.ts'
import { errorResponses } from '../../../shared/http/openapi.ts'

export const route = createRoute({
  method: 'post',
  path: '/register',
  summary: 'Create an account with email and password, and sign in',
  request: { body: { required: true, content: { 'application/json': { schema: RegisterSchema } } } },
  responses: {
    201: {
      description: 'The new user and their session',
      content: { 'application/json': { schema: AuthResultSchema } },
    },
    ...errorResponses,
    ...authErrorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const ctx = { clientAddress: c.req.header('x-forwarded-for') }
    return c.json(await registerUser({ ctx, input: c.req.valid('json') }), 201)
  })
}
