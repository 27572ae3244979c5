import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { jsonResponse, userRoute } from '../../../shared/http/routes.ts'
import { ProfileSchema } from '../../../shared/users/schemas.ts'
import { getMe } from '../../../shared/users/service.ts'

export const route = userRoute({
  method: 'get',
  path: '/me',
  summary: 'The signed-in user’s profile',
  responses: { 200: jsonResponse('The profile', ProfileSchema) },
})

export function register(app: App): void {
  app.openapi(route, async (c) => c.json(await getMe.trusted({ ctx: serviceContext(c), input: {} }), 200))
}
