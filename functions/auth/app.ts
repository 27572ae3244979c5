import { createApp } from '../../shared/http/app.ts'
import * as login from './routes/login.ts'
import * as logout from './routes/logout.ts'
import * as refresh from './routes/refresh.ts'
import * as register from './routes/register.ts'

export const app = createApp('auth')
for (const route of [register, login, refresh, logout]) route.register(app)
