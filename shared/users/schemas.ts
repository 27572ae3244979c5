import { z } from '@hono/zod-openapi'

/** The largest preferences document accepted, in bytes of JSON. */
export const MAX_PREFERENCES_BYTES = 64 * 1024

export const ProfileSchema = z
  .object({
    id: z.uuid(),
    email: z.string().nullable().openapi({ description: 'From the access token (Supabase Auth owns it)' }),
    full_name: z.string().nullable(),
    avatar_url: z.string().nullable(),
    is_active: z.boolean(),
    is_superuser: z.boolean(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi('Profile')

/** What a user may change about themselves; flags like is_superuser are not theirs to set. */
export const ProfileUpdateSchema = z
  .strictObject({
    full_name: z.string().trim().min(1).max(200).nullable(),
    avatar_url: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .nullable(),
  })
  .partial()
  .openapi('ProfileUpdate')

const jsonBytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length

/**
 * When an agent's change waits for the user's approval (docs/adr/0030): `never`; `destructive` (the
 * default): a delete, or a tool call that changes more than 10 rows; `always`: every change.
 */
export const APPROVAL_POLICIES = ['never', 'destructive', 'always'] as const
export const ApprovalPolicySchema = z.enum(APPROVAL_POLICIES).openapi('ApprovalPolicy')
export type ApprovalPolicy = z.infer<typeof ApprovalPolicySchema>
export const DEFAULT_APPROVAL_POLICY: ApprovalPolicy = 'destructive'

/** The agents' settings among the preferences; other keys are the frontend's. */
export const AiPreferencesSchema = z
  .looseObject({
    approval: ApprovalPolicySchema.optional().openapi({
      description:
        'Which of the agents’ changes wait for your approval: never, destructive (default: deletes and ' +
        'changes of more than 10 rows in one call) or always (every change)',
    }),
  })
  .openapi('AiPreferences')

export const PreferencesSchema = z
  .looseObject({ ai: AiPreferencesSchema.optional() })
  .refine((value) => jsonBytes(value) <= MAX_PREFERENCES_BYTES, {
    message: `Preferences must be at most ${MAX_PREFERENCES_BYTES} bytes of JSON`,
  })
  .openapi('Preferences', {
    description: 'Any JSON object (at most 64 KiB); PUT replaces it whole. `ai` holds the agents’ settings.',
  })

export type Profile = z.infer<typeof ProfileSchema>
export type ProfileUpdate = z.infer<typeof ProfileUpdateSchema>
export type Preferences = z.infer<typeof PreferencesSchema>
