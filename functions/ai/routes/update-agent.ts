import { updateAgent } from '../../../shared/ai/agents.ts'
import { AgentIdParamsSchema, AgentSchema, AgentUpdateSchema } from '../../../shared/ai/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { etagHeader, expectedVersions, IfMatchHeaderSchema } from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { errorResponse } from '../../../shared/http/openapi.ts'
import { jsonBody, jsonResponse, userRoute } from '../../../shared/http/routes.ts'
import { agentResponse } from './agent-response.ts'

export const route = userRoute({
  method: 'put',
  path: '/agents/{id}',
  summary: 'Change the fields given of an agent',
  description:
    'A built-in agent takes only model, temperature, instructions and enabled (null puts one back to ' +
    'the built-in’s own); your own agents take every field. Conditional on If-Match.',
  request: { params: AgentIdParamsSchema, headers: IfMatchHeaderSchema, body: jsonBody(AgentUpdateSchema) },
  responses: {
    200: { ...jsonResponse('The agent', AgentSchema), headers: etagHeader },
    409: errorResponse(409, 'You already have an agent of this name (conflict)'),
    412: errorResponse(412),
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const agent = await updateAgent.trusted({
      ctx: serviceContext(c),
      input: {
        id: c.req.valid('param').id,
        changes: c.req.valid('json'),
        expected: expectedVersions(c.req.valid('header')['if-match']),
      },
    })
    return agentResponse(c, agent, 200)
  })
}
