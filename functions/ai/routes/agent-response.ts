import type { Context } from 'hono'
import type { Agent } from '../../../shared/ai/schemas.ts'
import { etagOf } from '../../../shared/http/concurrency.ts'
import type { AppEnv } from '../../../shared/http/context.ts'

/** An agent with its ETag; a built-in never configured has no version yet, so no ETag. */
export const agentResponse = <S extends 200 | 201>(c: Context<AppEnv>, agent: Agent, status: S) =>
  c.json(agent, status, agent.updated_at ? { ETag: etagOf({ updated_at: agent.updated_at }) } : {})
