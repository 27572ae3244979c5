import { AuthResultSchema, RegisterSchema } from '../../../shared/accounts/schemas.ts'
import { register as registerUser } from '../../../shared/accounts/service.ts'
import type { App } from '../../../shared/http/app.ts'
import { jsonBody, jsonResponse, publicRoute } from '../../../shared/http/routes.ts'
import { accountErrors, clientAddress } from '../accounts.ts'

export const route = publicRoute({
  method: 'post',
  path: '/register',
  summary: 'Create an account with email and password, and sign in',
  request: { body: jsonBody(RegisterSchema) },
  responses: { 201: jsonResponse('The new user and their session', AuthResultSchema), ...accountErrors },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await registerUser({ ctx: clientAddress(c), input: c.req.valid('json') }), 201),
  )
}
