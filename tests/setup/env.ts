import { inject } from 'vitest'
import { functionEnv } from '../../scripts/stack/index.ts'

// In-process apps (integration tests) read the same environment the stack gives its functions.
const stack = inject('stack')
Object.assign(
  process.env,
  functionEnv(stack.apiUrl, stack.dbUrl, {
    anonKey: stack.anonKey,
    serviceRoleKey: stack.serviceRoleKey,
    jwtSecret: stack.jwtSecret,
    jwks: JSON.parse(stack.jwks),
  }),
)
