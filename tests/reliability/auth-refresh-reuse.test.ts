import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authClient, newEmail, type ServedGoTrue, serveGoTrue } from '../helpers/gotrue.ts'
import { adminSql } from '../helpers/stack.ts'

// Reusing a spent refresh token after the reuse interval revokes every token of its session. The
// revocation stamps each token's updated_at, and that used to put the newest one back inside the
// reuse window: it refreshed once more, and the session lived on with a fresh token.

const REUSE_INTERVAL_SECONDS = 1
const db = adminSql()
let gotrue: ServedGoTrue
beforeAll(async () => {
  gotrue = await serveGoTrue({ refreshTokenReuseInterval: REUSE_INTERVAL_SECONDS })
})
afterAll(async () => {
  await gotrue.close()
  await db.end()
})

const refresh = (token: string) => authClient(gotrue.url).auth.refreshSession({ refresh_token: token })

describe('refresh-token reuse detection', () => {
  it('keeps a revoked session revoked: its newest token cannot refresh within the window either', async () => {
    const { data, error } = await authClient(gotrue.url).auth.signUp({
      email: newEmail('reuse'),
      password: 'correct-horse-1',
    })
    expect(error).toBeNull()
    const first = data.session?.refresh_token ?? ''
    const sessionId = decodeJwt(data.session?.access_token ?? '').session_id as string
    const second = (await refresh(first)).data.session?.refresh_token ?? ''
    const newest = (await refresh(second)).data.session?.refresh_token ?? ''
    expect(newest).toMatch(/^[a-z0-9]{12}$/)

    // Past the reuse interval, a replay of the first token is a stolen token being reused.
    await new Promise((resolve) => setTimeout(resolve, REUSE_INTERVAL_SECONDS * 1000 + 200))
    expect((await refresh(first)).error).toMatchObject({ status: 400, code: 'refresh_token_already_used' })

    // At once, well inside the interval since the revocation: the newest token is refused too.
    const afterwards = await refresh(newest)
    expect(afterwards.error).toMatchObject({ status: 400, code: 'refresh_token_already_used' })
    expect(afterwards.data.session).toBeNull()
    const [{ live }] = await db<[{ live: number }]>`
      select count(*)::int as live from auth.refresh_tokens where session_id = ${sessionId} and not revoked`
    expect(live).toBe(0)
  })

  it('still honours a spent token within the interval while its session has an active token', async () => {
    const { data } = await authClient(gotrue.url).auth.signUp({
      email: newEmail('reuse'),
      password: 'correct-horse-1',
    })
    const first = data.session?.refresh_token ?? ''
    const second = (await refresh(first)).data.session?.refresh_token ?? ''
    await refresh(second)
    const replay = await refresh(first)
    expect(replay.error).toBeNull()
    expect(replay.data.session?.refresh_token).toMatch(/^[a-z0-9]{12}$/)
  })
})
