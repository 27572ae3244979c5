import { createRoute } from '@hono/zod-openapi'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { PreferencesSchema } from '../../../shared/users/schemas.ts'
import { getPreferences } from '../../../shared/users/service.ts'

export const route = createRoute({
  method: 'get',
  path: '/preferences',
  summary: 'The signed-in user’s preferences',
  security: bearerAuth,
  middleware: [requireUser] as const,
  responses: {
    200: {
      description: 'The preferences object',
      content: { 'application/json': { schema: PreferencesSchema } },
    },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => c.json(await getPreferences({ ctx: serviceContext(c) }), 200))
}
