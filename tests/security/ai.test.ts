import { app } from '../../functions/ai/app.ts'
import { securitySuite } from '../helpers/security.ts'
import { aiSecurity } from '../scenarios/ai.ts'

await securitySuite({ ...aiSecurity, app })
