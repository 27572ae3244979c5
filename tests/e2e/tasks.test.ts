import { overHttp } from '../helpers/domain.ts'
import { securitySuite } from '../helpers/security.ts'
import { tasksScenarios } from '../scenarios/tasks.ts'
import { tasksSecurity } from '../scenarios/security.ts'

const target = overHttp()
tasksScenarios(target)
// The shared security suite over HTTP, through the gateway to the function under Deno.
await securitySuite({ ...tasksSecurity, app: target.requestTarget })
