import { getAgent } from '../../../shared/ai/agents.ts'
import { AgentIdParamsSchema, AgentSchema } from '../../../shared/ai/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { etagHeader } from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { jsonResponse, userRoute } from '../../../shared/http/routes.ts'
import { agentResponse } from './agent-response.ts'

export const route = userRoute({
  method: 'get',
  path: '/agents/{id}',
  summary: 'An agent: a built-in (by name, e.g. planner) or one of your own (by id)',
  request: { params: AgentIdParamsSchema },
  responses: { 200: { ...jsonResponse('The agent', AgentSchema), headers: etagHeader } },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    agentResponse(c, await getAgent.trusted({ ctx: serviceContext(c), input: c.req.valid('param') }), 200),
  )
}
