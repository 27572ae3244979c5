import {
  AuthClient,
  type AuthError,
  isAuthSessionMissingError,
  type Session,
  type User,
} from '@supabase/supabase-js'
import { env, loadConfig } from '../config.ts'
import { ProviderUnavailableError } from '../core/errors.ts'
import { parseInput } from '../core/verb.ts'
import { fromAuthError } from './errors.ts'
import {
  type AuthResult,
  type LoginInput,
  LoginSchema,
  type LogoutInput,
  LogoutQuerySchema,
  type RefreshInput,
  RefreshSchema,
  type RegisterInput,
  RegisterSchema,
} from './schemas.ts'

export interface AuthCallContext {
  /** The caller's address as the gateway forwarded it, passed on so Supabase Auth limits each client, not us. */
  clientAddress?: string
}

/**
 * supabase-js's auth client for one request, against SUPABASE_URL with the anon key, so the same
 * code works against hosted Supabase Auth and the local stack. (It is what `createClient(…).auth`
 * is; `createClient` itself also builds a Realtime client, which needs a WebSocket Node 20 lacks.)
 */
function authClient(ctx: AuthCallContext) {
  const anonKey = env('SUPABASE_ANON_KEY')
  if (!anonKey) throw new ProviderUnavailableError('Supabase Auth is not configured: set SUPABASE_ANON_KEY')
  let retryAfter: string | undefined
  const client = new AuthClient({
    url: `${loadConfig().supabaseUrl}/auth/v1`,
    headers: {
      apikey: anonKey,
      Authorization: `Bearer ${anonKey}`,
      ...(ctx.clientAddress ? { 'x-forwarded-for': ctx.clientAddress } : {}),
    },
    persistSession: false,
    autoRefreshToken: false,
    detectSessionInUrl: false,
    // supabase-js drops response headers; a 429's Retry-After is worth passing on.
    fetch: async (input, init) => {
      const response = await fetch(input, init)
      retryAfter = response.headers.get('retry-after') ?? undefined
      return response
    },
  })
  const fail = (error: AuthError, action: Parameters<typeof fromAuthError>[1]) =>
    fromAuthError(error, action, retryAfter) ?? error
  return { client, fail }
}

function authResult(user: User, session: Session | null): AuthResult {
  return {
    user: {
      id: user.id,
      email: user.email ?? null,
      email_confirmed_at: user.email_confirmed_at ?? null,
      last_sign_in_at: user.last_sign_in_at ?? null,
      created_at: user.created_at,
      updated_at: user.updated_at ?? null,
      app_metadata: user.app_metadata,
      user_metadata: user.user_metadata ?? {},
    },
    session: session && {
      access_token: session.access_token,
      refresh_token: session.refresh_token,
      token_type: 'bearer',
      expires_in: session.expires_in,
      expires_at: session.expires_at ?? Math.floor(Date.now() / 1000) + session.expires_in,
    },
  }
}

/** Creates an account (the profile follows from the signup trigger) and, unless email must be confirmed first, a session. */
export async function register({
  ctx,
  input,
}: {
  ctx: AuthCallContext
  input: RegisterInput
}): Promise<AuthResult> {
  const { client, fail } = authClient(ctx)
  const { email, password, full_name } = parseInput(RegisterSchema, input)
  const { data, error } = await client.signUp({
    email,
    password,
    options: { data: full_name ? { full_name } : {} },
  })
  if (error) throw fail(error, 'register')
  if (!data.user) throw new Error('Supabase Auth answered signUp without a user')
  return authResult(data.user, data.session)
}

export async function login({
  ctx,
  input,
}: {
  ctx: AuthCallContext
  input: LoginInput
}): Promise<AuthResult> {
  const { client, fail } = authClient(ctx)
  const { email, password } = parseInput(LoginSchema, input)
  const { data, error } = await client.signInWithPassword({ email, password })
  if (error) throw fail(error, 'login')
  return authResult(data.user, data.session)
}

/** Exchanges a refresh token (single use) for a new session. */
export async function refresh({
  ctx,
  input,
}: {
  ctx: AuthCallContext
  input: RefreshInput
}): Promise<AuthResult> {
  const { client, fail } = authClient(ctx)
  const { refresh_token } = parseInput(RefreshSchema, input)
  const { data, error } = await client.refreshSession({ refresh_token })
  if (error) throw fail(error, 'refresh')
  if (!data.session || !data.user) throw new Error('Supabase Auth answered a refresh without a session')
  return authResult(data.user, data.session)
}

/**
 * Ends the caller's session (or, by scope, all or the other sessions): its refresh tokens stop
 * working. Access tokens already issued stay valid until they expire, as on hosted Supabase.
 */
export async function logout({
  ctx,
  input,
}: {
  ctx: AuthCallContext & { accessToken: string }
  input: LogoutInput
}): Promise<void> {
  const { client, fail } = authClient(ctx)
  const { scope } = parseInput(LogoutQuerySchema, input)
  const { error } = await client.admin.signOut(ctx.accessToken, scope)
  // A session that is already gone is signed out all the same (supabase-js's own signOut agrees).
  if (error && !isAuthSessionMissingError(error) && ![401, 403, 404].includes(error.status ?? 0)) {
    throw fail(error, 'logout')
  }
}
