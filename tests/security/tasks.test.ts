import { app } from '../../functions/tasks/app.ts'
import { securitySuite } from '../helpers/security.ts'
import { tasksSecurity } from '../scenarios/security.ts'

await securitySuite({ ...tasksSecurity, app })
