import type postgres from 'postgres'
import { functionEnv } from '../scripts/stack/index.ts'
import { expectOk, type Measurement, measure } from './lib.ts'
import type { BenchContext } from './run.ts'

/**
 * GET users/me through the full path (gateway → Deno function → auth → withUser → Postgres), the
 * same app in process (no HTTP, no Deno), and the same profile query run directly with postgres.js,
 * bare and inside withUser's transaction.
 */
export async function benchUsers({ stack, sql, user }: BenchContext): Promise<Measurement[]> {
  Object.assign(process.env, functionEnv(stack.apiUrl, stack.dbUrl, stack.keys))
  const { app } = await import('../functions/users/app.ts')
  const url = `${stack.apiUrl}/functions/v1/users/me`
  const headers = { authorization: `Bearer ${user.token}` }
  const claims = JSON.stringify({ sub: user.id, role: 'authenticated' })
  const profile = (tx: postgres.Sql | postgres.TransactionSql) =>
    tx`select id, full_name, preferences, created_at, updated_at from public.profiles where id = ${user.id}`
  return [
    await measure('GET users/me, full path over HTTP', async () => expectOk(await fetch(url, { headers }))),
    await measure('GET users/me, the Hono app in process', async () =>
      expectOk(await app.request('/users/me', { headers })),
    ),
    await measure('same query, postgres.js directly', () => profile(sql)),
    await measure('same query in a withUser-style transaction', () =>
      sql.begin(async (tx) => {
        const [, rows] = await Promise.all([
          tx`select set_config('request.jwt.claims', ${claims}, true), set_config('role', 'authenticated', true)`,
          profile(tx),
        ])
        return rows
      }),
    ),
  ]
}
