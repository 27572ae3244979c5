import { overHttp } from '../helpers/domain.ts'
import { securitySuite } from '../helpers/security.ts'
import { agentScenarios, aiSecurity } from '../scenarios/ai.ts'

const target = overHttp()
agentScenarios(target)
// The shared security suite over HTTP, through the gateway to the function under Deno.
await securitySuite({ ...aiSecurity, app: target.requestTarget })
