import type postgres from 'postgres'
import { userContext } from '../shared/core/context.ts'
import { verifyAccessToken } from '../shared/http/require-user.ts'
import { getMe } from '../shared/users/service.ts'
import { expectOk, type Measurement, measure } from './lib.ts'
import type { BenchContext } from './run.ts'

/**
 * GET users/me through the full path (gateway → Deno function → auth → withUser → Postgres), the
 * same app in process (no HTTP, no Deno), the profile query alone with postgres.js, and the verb's
 * statements exactly as a request sends them.
 */
export async function benchUsers({ stack, sql, user }: BenchContext): Promise<Measurement[]> {
  const { app } = await import('../functions/users/app.ts')
  const url = `${stack.apiUrl}/functions/v1/users/me`
  const headers = { authorization: `Bearer ${user.token}` }
  const ctx = userContext(await verifyAccessToken(user.token))
  const profile = (tx: postgres.Sql | postgres.TransactionSql) =>
    tx`select id, full_name, preferences, created_at, updated_at from public.profiles where id = ${user.id}`
  return [
    await measure('GET users/me, full path over HTTP', async () => expectOk(await fetch(url, { headers }))),
    await measure('GET users/me, the Hono app in process', async () =>
      expectOk(await app.request('/users/me', { headers })),
    ),
    await measure('same query, postgres.js directly', () => profile(sql)),
    await measure('the verb’s statements as a request sends them (withUser)', () =>
      getMe.trusted({ ctx, input: {} }),
    ),
  ]
}
