import { createApp } from '../../shared/http/app.ts'
import * as getMe from './routes/get-me.ts'
import * as getPreferences from './routes/get-preferences.ts'
import * as replacePreferences from './routes/replace-preferences.ts'
import * as updateMe from './routes/update-me.ts'

export const app = createApp('users')
for (const route of [getMe, updateMe, getPreferences, replacePreferences]) route.register(app)
