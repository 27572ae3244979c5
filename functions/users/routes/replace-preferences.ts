import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { jsonBody, jsonResponse, userRoute } from '../../../shared/http/routes.ts'
import { PreferencesSchema } from '../../../shared/users/schemas.ts'
import { replacePreferences } from '../../../shared/users/service.ts'

export const route = userRoute({
  method: 'put',
  path: '/preferences',
  summary: 'Replace the signed-in user’s preferences',
  request: { body: jsonBody(PreferencesSchema) },
  responses: { 200: jsonResponse('The stored preferences', PreferencesSchema) },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await replacePreferences.trusted({ ctx: serviceContext(c), input: c.req.valid('json') }), 200),
  )
}
