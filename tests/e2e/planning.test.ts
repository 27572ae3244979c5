import { overHttp } from '../helpers/domain.ts'
import { securitySuite } from '../helpers/security.ts'
import { planningScenarios } from '../scenarios/planning.ts'
import { planningSecurity } from '../scenarios/security.ts'

const target = overHttp()
planningScenarios(target)
// The shared security suite over HTTP, through the gateway to the function under Deno.
await securitySuite({ ...planningSecurity, app: target.requestTarget })
