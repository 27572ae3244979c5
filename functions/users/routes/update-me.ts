import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { jsonBody, jsonResponse, userRoute } from '../../../shared/http/routes.ts'
import { ProfileSchema, ProfileUpdateSchema } from '../../../shared/users/schemas.ts'
import { updateMe } from '../../../shared/users/service.ts'

export const route = userRoute({
  method: 'put',
  path: '/me',
  summary: 'Change the signed-in user’s profile (the fields given)',
  request: { body: jsonBody(ProfileUpdateSchema) },
  responses: { 200: jsonResponse('The updated profile', ProfileSchema) },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await updateMe.trusted({ ctx: serviceContext(c), input: c.req.valid('json') }), 200),
  )
}
