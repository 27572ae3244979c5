import { createRoute } from '@hono/zod-openapi'
import { IdParamsSchema } from '../../../shared/domain/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import { etagHeader, rowResponse } from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { getGoal } from '../../../shared/planning/goals.ts'
import { GoalWithSubGoalsSchema } from '../../../shared/planning/schemas.ts'

export const route = createRoute({
  method: 'get',
  path: '/goals/{id}',
  summary: 'A goal with its sub-goals',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: { params: IdParamsSchema },
  responses: {
    200: {
      description: 'The goal',
      headers: etagHeader,
      content: { 'application/json': { schema: GoalWithSubGoalsSchema } },
    },
    ...errorResponses,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    rowResponse(c, await getGoal({ ctx: serviceContext(c), input: c.req.valid('param') }), 200),
  )
}
