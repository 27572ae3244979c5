import { z } from '@hono/zod-openapi'
import type { JSONValue } from 'postgres'
import type { ServiceContext, Tx } from '../core/context.ts'
import { NotFoundError } from '../core/errors.ts'
import { columnsOf } from '../core/schemas.ts'
import { defineVerb } from '../core/verb.ts'
import { withUserStatement } from '../db/with-user.ts'
import {
  type Preferences,
  type Profile,
  ProfileSchema,
  ProfileUpdateSchema,
  PreferencesSchema,
} from './schemas.ts'

/** The profile as stored: its email comes from the access token (Supabase Auth owns it). */
const ProfileRowSchema = ProfileSchema.omit({ email: true })
type ProfileRow = z.infer<typeof ProfileRowSchema>
const PROFILE_COLUMNS = columnsOf(ProfileRowSchema)

/** The input of a verb that needs none: the user is the context's. */
const NoInputSchema = z.object({})

const profileNotFound = () => new NotFoundError('No profile for this user')

// The explicit id filter is defence in depth; RLS already limits every statement to the user's row.
const selectProfile = (tx: Tx, userId: string) =>
  tx<ProfileRow[]>`select ${tx(PROFILE_COLUMNS)} from public.profiles where id = ${userId}`

const withEmail = (ctx: ServiceContext, row: ProfileRow): Profile => ({
  ...row,
  email: ctx.claims.email ?? null,
})

export const getMe = defineVerb('profile.get', NoInputSchema, async ({ ctx }) => {
  const [row] = await withUserStatement(ctx, (tx) => selectProfile(tx, ctx.userId), ctx.tx)
  if (!row) throw profileNotFound()
  return withEmail(ctx, row)
})

export const updateMe = defineVerb('profile.update', ProfileUpdateSchema, async ({ ctx, input }) => {
  const columns = (['full_name', 'avatar_url'] as const).filter((column) => input[column] !== undefined)
  const [row] = await withUserStatement(
    ctx,
    (tx) =>
      columns.length === 0
        ? selectProfile(tx, ctx.userId)
        : tx<ProfileRow[]>`
            update public.profiles set ${tx(input, columns)} where id = ${ctx.userId}
            returning ${tx(PROFILE_COLUMNS)}`,
    ctx.tx,
  )
  if (!row) throw profileNotFound()
  return withEmail(ctx, row)
})

export const getPreferences = defineVerb('preferences.get', NoInputSchema, async ({ ctx }) => {
  const [row] = await withUserStatement(
    ctx,
    (tx) =>
      tx<{ preferences: Preferences }[]>`select preferences from public.profiles where id = ${ctx.userId}`,
    ctx.tx,
  )
  if (!row) throw profileNotFound()
  return row.preferences
})

export const replacePreferences = defineVerb(
  'preferences.replace',
  PreferencesSchema,
  async ({ ctx, input }) => {
    const [row] = await withUserStatement(
      ctx,
      (tx) => tx<{ preferences: Preferences }[]>`
      update public.profiles set preferences = ${tx.json(input as JSONValue)} where id = ${ctx.userId}
      returning preferences`,
      ctx.tx,
    )
    if (!row) throw profileNotFound()
    return row.preferences
  },
)
