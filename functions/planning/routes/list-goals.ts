import { createRoute } from '@hono/zod-openapi'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { pageSchema } from '../../../shared/http/pagination.ts'
import { listGoals } from '../../../shared/planning/goals.ts'
import { GoalListQuerySchema, GoalSchema } from '../../../shared/planning/schemas.ts'

export const route = createRoute({
  method: 'get',
  path: '/goals',
  summary: 'The signed-in user’s goals, newest first',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { query: GoalListQuerySchema },
  responses: {
    200: {
      description: 'A page of goals',
      content: { 'application/json': { schema: pageSchema(GoalSchema) } },
    },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await listGoals({ ctx: serviceContext(c), input: c.req.valid('query') }), 200),
  )
}
