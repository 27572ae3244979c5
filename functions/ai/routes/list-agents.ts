import { listAgents } from '../../../shared/ai/agents.ts'
import { AgentSchema } from '../../../shared/ai/schemas.ts'
import { listRoute } from '../../../shared/http/routes.ts'

export const { route, register } = listRoute({
  path: '/agents',
  summary: 'The built-in crew as you have set it up, then your own agents',
  itemSchema: AgentSchema,
  pageDescription: 'A page of agents',
  list: listAgents,
})
