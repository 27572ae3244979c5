import { createRoute } from '@hono/zod-openapi'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { PreferencesSchema } from '../../../shared/users/schemas.ts'
import { replacePreferences } from '../../../shared/users/service.ts'

export const route = createRoute({
  method: 'put',
  path: '/preferences',
  summary: 'Replace the signed-in user’s preferences',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: {
    body: { required: true, content: { 'application/json': { schema: PreferencesSchema } } },
  },
  responses: {
    200: {
      description: 'The stored preferences',
      content: { 'application/json': { schema: PreferencesSchema } },
    },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await replacePreferences({ ctx: serviceContext(c), input: c.req.valid('json') }), 200),
  )
}
