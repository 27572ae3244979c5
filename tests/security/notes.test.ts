import { app } from '../../functions/notes/app.ts'
import { securitySuite } from '../helpers/security.ts'
import { notesSecurity } from '../scenarios/security.ts'

await securitySuite({ ...notesSecurity, app })
