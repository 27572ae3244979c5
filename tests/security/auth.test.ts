import { app } from '../../functions/auth/app.ts'
import { securitySuite } from '../helpers/security.ts'

await securitySuite({
  name: 'auth',
  app,
  // Signing up, in and a session's renewal are for callers who have no access token yet.
  publicRoutes: ['POST /auth/register', 'POST /auth/login', 'POST /auth/refresh'],
})
