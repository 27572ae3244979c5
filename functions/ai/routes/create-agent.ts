import { createAgent } from '../../../shared/ai/agents.ts'
import { AgentCreateSchema, AgentSchema } from '../../../shared/ai/schemas.ts'
import { runIdempotent } from '../../../shared/db/idempotency.ts'
import type { App } from '../../../shared/http/app.ts'
import {
  etagHeader,
  IdempotencyHeaderSchema,
  idempotencyOf,
  replayHeaders,
} from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { errorResponse } from '../../../shared/http/openapi.ts'
import { jsonBody, jsonResponse, userRoute } from '../../../shared/http/routes.ts'
import { agentResponse } from './agent-response.ts'

export const route = userRoute({
  method: 'post',
  path: '/agents',
  summary: 'Create an agent of your own',
  description:
    'Name, role and goal say who it is; backstory, instructions, tools, model and temperature how it works.',
  request: { headers: IdempotencyHeaderSchema, body: jsonBody(AgentCreateSchema) },
  responses: {
    201: { ...jsonResponse('The agent', AgentSchema), headers: etagHeader },
    409: errorResponse(409, 'You already have an agent of this name (conflict)'),
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const input = c.req.valid('json')
    const { result, replayed } = await runIdempotent(
      serviceContext(c),
      idempotencyOf(c.req.valid('header')['idempotency-key'], createAgent.verbName, input),
      (ctx) => createAgent.trusted({ ctx, input }),
    )
    for (const [name, value] of Object.entries(replayHeaders(replayed))) c.header(name, value)
    return agentResponse(c, result, 201)
  })
}
