import { createRoute } from '@hono/zod-openapi'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { ProfileSchema } from '../../../shared/users/schemas.ts'
import { getMe } from '../../../shared/users/service.ts'

export const route = createRoute({
  method: 'get',
  path: '/me',
  summary: 'The signed-in user’s profile',
  security: bearerAuth,
  middleware: [requireUser] as const,
  responses: {
    200: { description: 'The profile', content: { 'application/json': { schema: ProfileSchema } } },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => c.json(await getMe({ ctx: serviceContext(c) }), 200))
}
