import type { JSONValue } from 'postgres'
import { type ServiceContext, type Tx, withUser } from '../db/with-user.ts'
import { NotFoundError } from '../http/errors.ts'
import type { Preferences, Profile, ProfileUpdate } from './schemas.ts'

type ProfileRow = Omit<Profile, 'email'>

const profileNotFound = () => new NotFoundError('No profile for this user')

// The explicit id filter is defence in depth; RLS already limits every statement to the user's row.
async function selectProfile(tx: Tx, userId: string): Promise<ProfileRow | undefined> {
  const [row] = await tx<ProfileRow[]>`
    select id, full_name, avatar_url, is_active, is_superuser, created_at, updated_at
    from public.profiles where id = ${userId}`
  return row
}

const withEmail = (ctx: ServiceContext, row: ProfileRow): Profile => ({
  ...row,
  email: ctx.claims.email ?? null,
})

export async function getMe({ ctx }: { ctx: ServiceContext }): Promise<Profile> {
  const row = await withUser(ctx.claims, (tx) => selectProfile(tx, ctx.userId), ctx.tx)
  if (!row) throw profileNotFound()
  return withEmail(ctx, row)
}

export async function updateMe({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: ProfileUpdate
}): Promise<Profile> {
  const columns = (['full_name', 'avatar_url'] as const).filter((column) => input[column] !== undefined)
  const row = await withUser(
    ctx.claims,
    async (tx) => {
      if (columns.length === 0) return selectProfile(tx, ctx.userId)
      const [updated] = await tx<ProfileRow[]>`
        update public.profiles set ${tx(input, columns)} where id = ${ctx.userId}
        returning id, full_name, avatar_url, is_active, is_superuser, created_at, updated_at`
      return updated
    },
    ctx.tx,
  )
  if (!row) throw profileNotFound()
  return withEmail(ctx, row)
}

export async function getPreferences({ ctx }: { ctx: ServiceContext }): Promise<Preferences> {
  const [row] = await withUser(
    ctx.claims,
    (tx) =>
      tx<{ preferences: Preferences }[]>`select preferences from public.profiles where id = ${ctx.userId}`,
    ctx.tx,
  )
  if (!row) throw profileNotFound()
  return row.preferences
}

export async function replacePreferences({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: Preferences
}): Promise<Preferences> {
  const [row] = await withUser(
    ctx.claims,
    (tx) => tx<{ preferences: Preferences }[]>`
      update public.profiles set preferences = ${tx.json(input as JSONValue)} where id = ${ctx.userId}
      returning preferences`,
    ctx.tx,
  )
  if (!row) throw profileNotFound()
  return row.preferences
}
