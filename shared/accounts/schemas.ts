import { z } from '@hono/zod-openapi'

/** Supabase Auth's limits: 255 characters of email, 72 bytes of password (bcrypt reads no more). */
const Email = z.email().max(255).openapi({ example: 'ada@example.com' })

export const RegisterSchema = z
  .strictObject({
    email: Email,
    password: z
      .string()
      .min(1)
      .refine((value) => new TextEncoder().encode(value).length <= 72, {
        message: 'Password must be at most 72 bytes',
      })
      .openapi({ description: 'The minimum length is Supabase Auth’s setting (6 by default)' }),
    full_name: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: 'Copied into the profile' }),
  })
  .openapi('RegisterRequest')

export const LoginSchema = z
  .strictObject({
    email: Email,
    password: z.string().min(1).max(1024),
  })
  .openapi('LoginRequest')

export const RefreshSchema = z
  .strictObject({
    refresh_token: z.string().min(1).max(1024),
  })
  .openapi('RefreshRequest')

export const LogoutQuerySchema = z.object({
  scope: z.enum(['local', 'global', 'others']).default('local').openapi({
    description: 'local: this session; global: every session of the user; others: all but this one',
  }),
})

export const AuthUserSchema = z
  .object({
    id: z.uuid(),
    email: z.string().nullable(),
    email_confirmed_at: z.iso.datetime().nullable(),
    last_sign_in_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime().nullable(),
    app_metadata: z.record(z.string(), z.unknown()),
    user_metadata: z.record(z.string(), z.unknown()),
  })
  .openapi('AuthUser')

export const SessionSchema = z
  .object({
    access_token: z.string().openapi({ description: 'Send as `Authorization: Bearer …`' }),
    refresh_token: z
      .string()
      .openapi({ description: 'Single use: exchange it at auth/refresh for a new session' }),
    token_type: z.literal('bearer'),
    expires_in: z.int().openapi({ description: 'Seconds the access token lives' }),
    expires_at: z.int().openapi({ description: 'When the access token expires, in Unix seconds' }),
  })
  .openapi('Session')

export const AuthResultSchema = z
  .object({
    user: AuthUserSchema,
    session: SessionSchema.nullable().openapi({
      description: 'null when the project requires email confirmation before the first sign-in',
    }),
  })
  .openapi('AuthResult')

export type RegisterInput = z.infer<typeof RegisterSchema>
export type LoginInput = z.infer<typeof LoginSchema>
export type RefreshInput = z.infer<typeof RefreshSchema>
export type LogoutInput = z.infer<typeof LogoutQuerySchema>
export type AuthResult = z.infer<typeof AuthResultSchema>
