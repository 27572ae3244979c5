import { AuthResultSchema, LoginSchema } from '../../../shared/accounts/schemas.ts'
import { login } from '../../../shared/accounts/service.ts'
import type { App } from '../../../shared/http/app.ts'
import { errorResponse } from '../../../shared/http/openapi.ts'
import { jsonBody, jsonResponse, publicRoute } from '../../../shared/http/routes.ts'
import { accountErrors, clientAddress } from '../accounts.ts'

export const route = publicRoute({
  method: 'post',
  path: '/login',
  summary: 'Sign in with email and password',
  request: { body: jsonBody(LoginSchema) },
  responses: {
    200: jsonResponse('The user and a new session', AuthResultSchema),
    ...accountErrors,
    401: errorResponse(401, 'Wrong email or password (invalid_credentials)'),
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await login({ ctx: clientAddress(c), input: c.req.valid('json') }), 200),
  )
}
