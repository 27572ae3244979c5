import { AuthResultSchema, RefreshSchema } from '../../../shared/accounts/schemas.ts'
import { refresh } from '../../../shared/accounts/service.ts'
import type { App } from '../../../shared/http/app.ts'
import { errorResponse } from '../../../shared/http/openapi.ts'
import { jsonBody, jsonResponse, publicRoute } from '../../../shared/http/routes.ts'
import { accountErrors, clientAddress } from '../accounts.ts'

export const route = publicRoute({
  method: 'post',
  path: '/refresh',
  summary: 'Exchange a refresh token (single use) for a new session',
  request: { body: jsonBody(RefreshSchema) },
  responses: {
    200: jsonResponse('The user and the new session', AuthResultSchema),
    ...accountErrors,
    401: errorResponse(401, 'The refresh token is unknown, used up or its session has ended (unauthorized)'),
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await refresh({ ctx: clientAddress(c), input: c.req.valid('json') }), 200),
  )
}
