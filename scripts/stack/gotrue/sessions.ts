import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import type postgres from 'postgres'
import { badRequest } from './errors.ts'
import { type Db, NIL_UUID } from './users.ts'

export interface SessionRow {
  id: string
  user_id: string
  aal: string | null
  created_at: Date
}

/** What a session response needs besides the user: the session and its current refresh token. */
export interface IssuedSession {
  session: SessionRow
  refreshToken: string
}

export interface ClientInfo {
  userAgent?: string
  ip?: string
}

export type LogoutScope = 'global' | 'local' | 'others'

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** GoTrue's legacy refresh token: 12 random lowercase base32 characters (crypto.SecureAlphanumeric(12)). */
function newRefreshToken(): string {
  return Array.from(randomBytes(12), (byte) => BASE32[byte & 31]).join('')
}

export const REFRESH_TOKEN_PATTERN = /^[a-z0-9]{12}$/

async function insertRefreshToken(tx: postgres.TransactionSql, session: SessionRow, parent: string | null) {
  const token = newRefreshToken()
  await tx`
    insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
    values (${NIL_UUID}, ${token}, ${session.user_id}, false, now(), now(), ${parent}, ${session.id})`
  return token
}

/** A new session with its first refresh token, as a sign-in creates (models.GrantAuthenticatedUser). */
export async function startSession(
  tx: postgres.TransactionSql,
  userId: string,
  client: ClientInfo,
): Promise<IssuedSession> {
  const ip = client.ip && isIP(client.ip) ? client.ip : null
  const [session] = await tx<SessionRow[]>`
    insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
    values (${crypto.randomUUID()}, ${userId}, now(), now(), 'aal1', ${client.userAgent ?? null}, ${ip})
    returning id, user_id, aal, created_at`
  const refreshToken = await insertRefreshToken(tx, session, null)
  await tx`update auth.users set last_sign_in_at = now(), updated_at = now() where id = ${userId}`
  return { session, refreshToken }
}

export type Rotation = { issued: IssuedSession } | { reuseDetected: true }

/**
 * Swaps a refresh token for its successor (internal/tokens/service.go, RefreshTokenGrant, legacy
 * tokens). A revoked token is still honoured when it is the parent of the session's active token
 * (the client lost the answer to its last refresh: it gets that answer again) or when it was revoked
 * less than `reuseIntervalSeconds` ago; any other reuse revokes every token of the session, and that
 * revocation must be committed, so it is returned rather than thrown. A session left with no active
 * token stays that way: its spent tokens are refused however recently they were revoked.
 */
export async function rotateRefreshToken(
  tx: postgres.TransactionSql,
  token: string,
  reuseIntervalSeconds: number,
): Promise<Rotation> {
  const [current] = await tx<
    Array<{ id: string; revoked: boolean; session_id: string | null; reuse_expired: boolean }>
  >`
    select id, revoked, session_id,
           updated_at + make_interval(secs => ${reuseIntervalSeconds}) < now() as reuse_expired
    from auth.refresh_tokens where token = ${token} for update`
  if (!current) throw badRequest('refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found')

  const [session] = current.session_id
    ? await tx<SessionRow[]>`
        select id, user_id, aal, created_at from auth.sessions where id = ${current.session_id} for update`
    : []
  if (!session) throw badRequest('session_not_found', 'Invalid Refresh Token: No Valid Session Found')

  if (current.revoked) {
    const [active] = await tx<Array<{ token: string; parent: string | null }>>`
      select token, parent from auth.refresh_tokens
      where session_id = ${session.id} and revoked = false order by id desc limit 1`
    if (active?.parent === token) return { issued: { session, refreshToken: active.token } }
    // No active token left: reuse was detected and every token revoked. That revocation stamped
    // updated_at, which must not put the tokens back inside the reuse window.
    if (!active) return { reuseDetected: true }
    if (current.reuse_expired) {
      await tx`
        update auth.refresh_tokens set revoked = true, updated_at = now()
        where session_id = ${session.id} and revoked = false`
      return { reuseDetected: true }
    }
  }

  await tx`update auth.refresh_tokens set revoked = true, updated_at = now() where id = ${current.id}`
  const refreshToken = await insertRefreshToken(tx, session, token)
  await tx`update auth.sessions set refreshed_at = now(), updated_at = now() where id = ${session.id}`
  return { issued: { session, refreshToken } }
}

export async function findSession(sql: Db, id: string): Promise<SessionRow | undefined> {
  const [session] = await sql<
    SessionRow[]
  >`select id, user_id, aal, created_at from auth.sessions where id = ${id}`
  return session
}

/**
 * Ends sessions as GoTrue's logout does: `global` every session of the user, `local` this one,
 * `others` all but this one. Their refresh tokens go with them (on delete cascade).
 */
export async function endSessions(
  sql: Db,
  userId: string,
  sessionId: string | undefined,
  scope: LogoutScope,
) {
  if (sessionId && scope === 'local') await sql`delete from auth.sessions where id = ${sessionId}`
  else if (sessionId && scope === 'others')
    await sql`delete from auth.sessions where user_id = ${userId} and id <> ${sessionId}`
  else await sql`delete from auth.sessions where user_id = ${userId}`
}
