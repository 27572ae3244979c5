import { app } from '../../functions/users/app.ts'
import { securitySuite } from '../helpers/security.ts'

await securitySuite({
  name: 'users',
  app,
  bodies: {
    'PUT /users/me': { full_name: 'pwned' },
    'PUT /users/preferences': { pwned: true },
  },
})
