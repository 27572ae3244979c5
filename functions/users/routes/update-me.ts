import { createRoute } from '@hono/zod-openapi'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { ProfileSchema, ProfileUpdateSchema } from '../../../shared/users/schemas.ts'
import { updateMe } from '../../../shared/users/service.ts'

export const route = createRoute({
  method: 'put',
  path: '/me',
  summary: 'Change the signed-in user’s profile (the fields given)',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: {
    body: { required: true, content: { 'application/json': { schema: ProfileUpdateSchema } } },
  },
  responses: {
    200: { description: 'The updated profile', content: { 'application/json': { schema: ProfileSchema } } },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await updateMe({ ctx: serviceContext(c), input: c.req.valid('json') }), 200),
  )
}
