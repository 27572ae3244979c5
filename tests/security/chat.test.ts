import { app } from '../../functions/chat/app.ts'
import { securitySuite } from '../helpers/security.ts'
import { chatSecurity } from '../scenarios/chat.ts'

await securitySuite({ ...chatSecurity, app })
