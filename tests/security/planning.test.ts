import { app } from '../../functions/planning/app.ts'
import { securitySuite } from '../helpers/security.ts'
import { planningSecurity } from '../scenarios/security.ts'

await securitySuite({ ...planningSecurity, app })
