import type { TestProject } from 'vitest/node'
import { startStack } from '../../scripts/stack/index.ts'

export interface StackInfo {
  apiUrl: string
  dbUrl: string
  /** The embedded database (the default), or an existing PostgreSQL given by CONSILIUM_DB_URL. */
  embeddedDatabase: boolean
  databaseVersion: string
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

const PROVIDER_VARIABLE =
  /^(OPENAI|ANTHROPIC|XAI|OPENROUTER)_|^AI_(DEFAULT_MODEL|FALLBACK_MODELS|EMBEDDING_MODEL)$/

export default async function setup(project: TestProject) {
  // Every test client is 127.0.0.1, so a per-address limit would count the whole suite as one
  // client; the per-user limit stays on (its counting runs on every request) but out of reach.
  // tests/reliability/rate-limits.test.ts sets low limits of its own.
  process.env.RATE_LIMIT_PER_USER_PER_MINUTE ??= '100000'
  process.env.RATE_LIMIT_PER_ADDRESS_PER_MINUTE ??= '0'
  // No test talks to a real model: provider settings from the shell and the env files stay out of
  // the stack (chat hands every posted message to the agents). Tests point the providers at the
  // fakes in tests/helpers/ themselves.
  for (const name of Object.keys(process.env)) {
    if (PROVIDER_VARIABLE.test(name)) delete process.env[name]
  }
  const logs: string[] = []
  // `npm test -- --db-url <url>` (or CONSILIUM_DB_URL=<url>): the suite on an existing PostgreSQL,
  // as a superuser (docs/adr/0033-existing-postgres.md); else the embedded database, in memory.
  const dbUrl = process.env.CONSILIUM_DB_URL || undefined
  const stack = await startStack({
    port: 0,
    dbPort: 0,
    dbUrl,
    envFiles: false,
    // Tests drain the knowledge queue themselves (or through the routes), never on a timer's tick.
    knowledgeDrainIntervalMs: 0,
    log: (name, line) => logs.push(`[${name}] ${line}`),
  })
  if (dbUrl) console.log(`The suite runs on ${stack.databaseVersion} at ${new URL(dbUrl).host}.`)
  project.provide('stack', {
    apiUrl: stack.apiUrl,
    dbUrl: stack.dbUrl,
    embeddedDatabase: stack.embeddedDatabase,
    databaseVersion: stack.databaseVersion,
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
