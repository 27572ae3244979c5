import type postgres from 'postgres'

/** A connection or the transaction a request runs in. */
export type Db = postgres.Sql | postgres.TransactionSql

/** GoTrue's nil instance id, which it writes into every row it creates. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000'

/** A jsonb parameter: postgres.js serializes it itself, so it must not be a JSON string already. */
export const jsonb = (sql: Db, value: Record<string, unknown>) => sql.json(value as postgres.JSONValue)

export interface UserRow {
  id: string
  aud: string | null
  role: string | null
  email: string | null
  encrypted_password: string | null
  email_confirmed_at: Date | null
  phone: string | null
  phone_confirmed_at: Date | null
  confirmed_at: Date | null
  last_sign_in_at: Date | null
  raw_app_meta_data: Record<string, unknown> | null
  raw_user_meta_data: Record<string, unknown> | null
  created_at: Date | null
  updated_at: Date | null
  banned_until: Date | null
  is_anonymous: boolean
}

interface IdentityRow {
  id: string
  provider_id: string
  user_id: string
  identity_data: Record<string, unknown>
  provider: string
  last_sign_in_at: Date | null
  created_at: Date | null
  updated_at: Date | null
  email: string | null
}

export interface UserWithIdentities {
  user: UserRow
  identities: IdentityRow[]
}

const userColumns = (sql: Db) =>
  sql`id, aud, role, email, encrypted_password, email_confirmed_at, phone, phone_confirmed_at, confirmed_at,
      last_sign_in_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at, banned_until, is_anonymous`

export async function findUserById(sql: Db, id: string): Promise<UserRow | undefined> {
  const [user] = await sql<UserRow[]>`select ${userColumns(sql)} from auth.users where id = ${id}`
  return user
}

/** As GoTrue's FindUserByEmailAndAudience: case-insensitive, SSO users excluded. */
export async function findUserByEmail(sql: Db, email: string): Promise<UserRow | undefined> {
  const [user] = await sql<UserRow[]>`
    select ${userColumns(sql)} from auth.users
    where lower(email) = ${email.toLowerCase()} and is_sso_user = false
    limit 1`
  return user
}

export async function emailTakenByAnother(sql: Db, email: string, userId: string): Promise<boolean> {
  const [row] = await sql`
    select 1 from auth.users where lower(email) = ${email} and is_sso_user = false and id <> ${userId} limit 1`
  return !!row
}

/** The user with its identities, as GoTrue loads it for every response that carries a user. */
export async function loadUser(sql: Db, id: string): Promise<UserWithIdentities> {
  const user = await findUserById(sql, id)
  if (!user) throw new Error(`user ${id} vanished inside its own transaction`)
  const identities = await sql<IdentityRow[]>`
    select id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at, email
    from auth.identities where user_id = ${id} order by created_at`
  return { user, identities }
}

/**
 * A confirmed email user and its email identity, as GoTrue's signup with autoconfirm leaves them.
 * Run inside the signup transaction, so the database's `on insert` triggers (the profile) join it.
 */
export async function insertEmailUser(
  tx: postgres.TransactionSql,
  input: { email: string; passwordHash: string; data: Record<string, unknown> },
): Promise<string> {
  const id = crypto.randomUUID()
  const appMetadata = { provider: 'email', providers: ['email'] }
  // Confirming sets email_verified in the user's metadata (models.User.Confirm).
  const userMetadata = { ...input.data, email_verified: true }
  const identityData = {
    ...input.data,
    sub: id,
    email: input.email,
    email_verified: false,
    phone_verified: false,
  }
  await tx`
    insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
      raw_app_meta_data, raw_user_meta_data, created_at, updated_at, confirmation_token, recovery_token,
      email_change_token_new, email_change, is_sso_user, is_anonymous)
    values (${NIL_UUID}, ${id}, 'authenticated', 'authenticated', ${input.email}, ${input.passwordHash}, now(),
      ${jsonb(tx, appMetadata)}, ${jsonb(tx, userMetadata)}, now(), now(), '', '', '', '',
      false, false)`
  await tx`
    insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
    values (${id}, ${id}, ${jsonb(tx, identityData)}, 'email', now(), now(), now())`
  return id
}

const iso = (value: Date | null | undefined) => (value ? value.toISOString() : undefined)

/** Drops the fields GoTrue marks `omitempty` when they are unset. */
function compact<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}

/** The user object GoTrue sends (models.User's JSON), identities included. */
export function userJson({ user, identities }: UserWithIdentities) {
  return compact({
    id: user.id,
    aud: user.aud ?? '',
    role: user.role ?? '',
    email: user.email ?? '',
    email_confirmed_at: iso(user.email_confirmed_at),
    phone: user.phone ?? '',
    phone_confirmed_at: iso(user.phone_confirmed_at),
    confirmed_at: iso(user.confirmed_at),
    last_sign_in_at: iso(user.last_sign_in_at),
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    identities: identities.map((identity) =>
      compact({
        identity_id: identity.id,
        id: identity.provider_id,
        user_id: identity.user_id,
        identity_data: identity.identity_data,
        provider: identity.provider,
        last_sign_in_at: iso(identity.last_sign_in_at),
        created_at: iso(identity.created_at) ?? '',
        updated_at: iso(identity.updated_at) ?? '',
        email: identity.email ?? undefined,
      }),
    ),
    created_at: iso(user.created_at) ?? '',
    updated_at: iso(user.updated_at) ?? '',
    banned_until: iso(user.banned_until),
    is_anonymous: user.is_anonymous,
  })
}
