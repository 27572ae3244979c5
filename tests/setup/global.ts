import type { TestProject } from 'vitest/node'
import { startStack } from '../../scripts/stack/index.ts'

export interface StackInfo {
  apiUrl: string
  dbUrl: string
  anonKey: string
  serviceRoleKey: string
  jwtSecret: string
  jwks: string
  signingKeyJwk: string
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo
  }
}

export default async function setup(project: TestProject) {
  const logs: string[] = []
  const stack = await startStack({ port: 0, dbPort: 0, log: (name, line) => logs.push(`[${name}] ${line}`) })
  project.provide('stack', {
    apiUrl: stack.apiUrl,
    dbUrl: stack.dbUrl,
    anonKey: stack.keys.anonKey,
    serviceRoleKey: stack.keys.serviceRoleKey,
    jwtSecret: stack.keys.jwtSecret,
    jwks: JSON.stringify(stack.keys.jwks),
    signingKeyJwk: JSON.stringify(stack.keys.signingKey.privateJwk),
  })
  return async () => {
    await stack.stop()
    if (process.env.SHOW_FUNCTION_LOGS) console.log(logs.join('\n'))
  }
}
