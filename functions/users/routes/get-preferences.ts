import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { jsonResponse, userRoute } from '../../../shared/http/routes.ts'
import { PreferencesSchema } from '../../../shared/users/schemas.ts'
import { getPreferences } from '../../../shared/users/service.ts'

export const route = userRoute({
  method: 'get',
  path: '/preferences',
  summary: 'The signed-in user’s preferences',
  responses: { 200: jsonResponse('The preferences object', PreferencesSchema) },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await getPreferences.trusted({ ctx: serviceContext(c), input: {} }), 200),
  )
}
