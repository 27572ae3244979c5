import { deleteAgent } from '../../../shared/ai/agents.ts'
import { AgentIdParamsSchema } from '../../../shared/ai/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { expectedVersions, IfMatchHeaderSchema } from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { errorResponse } from '../../../shared/http/openapi.ts'
import { userRoute } from '../../../shared/http/routes.ts'

export const route = userRoute({
  method: 'delete',
  path: '/agents/{id}',
  summary: 'Delete one of your own agents (a built-in can only be turned off)',
  request: { params: AgentIdParamsSchema, headers: IfMatchHeaderSchema },
  responses: {
    204: { description: 'Deleted' },
    409: errorResponse(409, 'A built-in agent cannot be deleted (conflict)'),
    412: errorResponse(412),
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    await deleteAgent.trusted({
      ctx: serviceContext(c),
      input: { id: c.req.valid('param').id, expected: expectedVersions(c.req.valid('header')['if-match']) },
    })
    return c.body(null, 204)
  })
}
