import bcrypt from 'bcryptjs'
import { type Context, Hono } from 'hono'
import { cors } from 'hono/cors'
import type postgres from 'postgres'
import { createJwtVerifier } from '../jwt.ts'
import type { StackKeys } from '../keys.ts'
import { AuthError, badRequest, errorResponse, forbidden, unprocessable } from './errors.ts'
import { defaultLoginLimits, type LoginLimits, LoginLimiter } from './login-limiter.ts'
import { checkPasswordStrength, objectField, readParams, stringField, validateEmail } from './params.ts'
import {
  type ClientInfo,
  endSessions,
  findSession,
  type IssuedSession,
  type LogoutScope,
  REFRESH_TOKEN_PATTERN,
  rotateRefreshToken,
  type SessionRow,
  startSession,
} from './sessions.ts'
import { type AccessTokenClaims, createTokenSigner } from './tokens.ts'
import {
  emailTakenByAnother,
  findUserByEmail,
  findUserById,
  loadUser,
  NIL_UUID,
  type UserRow,
  type UserWithIdentities,
  insertEmailUser,
  jsonb,
  userJson,
} from './users.ts'

export interface GoTrueServiceOptions {
  /** A postgres.js client connected as `postgres`. */
  sql: postgres.Sql
  keys: StackKeys
  /** The `iss` of access tokens: the public URL of this service, e.g. http://127.0.0.1:54321/auth/v1. */
  issuer: string
  /** Access token lifetime in seconds (the CLI's jwt_expiry). */
  jwtExpiry?: number
  /** How long a spent refresh token may still be replayed, in seconds (GoTrue's default is 10). */
  refreshTokenReuseInterval?: number
  /** The CLI's minimum_password_length. */
  passwordMinLength?: number
  bcryptCost?: number
  loginLimits?: Partial<LoginLimits>
  /** Told when sessions were ended here (sign-out, a new password), so Realtime can close their channels at once. */
  onSessionsEnded?: () => void
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const LOGOUT_SCOPES: readonly string[] = ['global', 'local', 'others']

/**
 * The client's address, as GoTrue reads it: the first X-Forwarded-For hop. The gateway sets that
 * header to the socket's address and drops any the client sent (scripts/stack/client-address.ts).
 */
function clientInfo(c: Context): ClientInfo {
  const forwarded = c.req.header('x-forwarded-for')?.split(',')[0]?.trim()
  return { userAgent: c.req.header('user-agent'), ip: forwarded || undefined }
}

/**
 * The GoTrue endpoints supabase-js uses, over the `auth` schema, mounted at /auth/v1 (see
 * docs/adr/0004-local-auth-service.md for what it leaves out).
 */
export function createGoTrueService(options: GoTrueServiceOptions): Hono {
  const { sql, keys, issuer } = options
  const jwtExpiry = options.jwtExpiry ?? 3600
  const reuseInterval = options.refreshTokenReuseInterval ?? 10
  const passwordMinLength = options.passwordMinLength ?? 6
  const bcryptCost = options.bcryptCost ?? 10
  const limiter = new LoginLimiter({ ...defaultLoginLimits, ...options.loginLimits })
  const signer = createTokenSigner(keys)
  const verifyJwt = createJwtVerifier(keys)
  // Compared against when an email is unknown, so the answer takes as long as for a wrong password.
  const decoyHash = bcrypt.hashSync(crypto.randomUUID(), bcryptCost)

  async function sessionResponse(found: UserWithIdentities, { session, refreshToken }: IssuedSession) {
    const { user } = found
    const iat = Math.floor(Date.now() / 1000)
    const exp = iat + jwtExpiry
    const claims: AccessTokenClaims = {
      iss: issuer,
      sub: user.id,
      aud: user.aud ?? 'authenticated',
      exp,
      iat,
      email: user.email ?? '',
      phone: user.phone ?? '',
      app_metadata: user.raw_app_meta_data ?? {},
      user_metadata: user.raw_user_meta_data ?? {},
      role: user.role ?? 'authenticated',
      aal: session.aal ?? 'aal1',
      amr: [{ method: 'password', timestamp: Math.floor(session.created_at.getTime() / 1000) }],
      session_id: session.id,
      is_anonymous: user.is_anonymous,
    }
    return {
      access_token: await signer.sign(claims),
      token_type: 'bearer',
      expires_in: jwtExpiry,
      expires_at: exp,
      refresh_token: refreshToken,
      user: userJson(found),
    }
  }

  /** GoTrue's requireAuthentication: a verified Bearer token whose user, and session, still exist. */
  async function authenticate(c: Context): Promise<{ user: UserRow; session?: SessionRow; aud?: string }> {
    const match = /^bearer (\S+)$/i.exec(c.req.header('authorization') ?? '')
    if (!match) throw new AuthError(401, 'no_authorization', 'This endpoint requires a valid Bearer token')
    const claims = await signer.verify(match[1])
    if (!claims.sub) throw forbidden('bad_jwt', 'invalid claim: missing sub claim')
    if (!UUID.test(claims.sub)) throw badRequest('bad_jwt', 'invalid claim: sub claim must be a UUID')
    const user = await findUserById(sql, claims.sub)
    if (!user) throw forbidden('user_not_found', 'User from sub claim in JWT does not exist')
    const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud
    const sessionId = claims.session_id
    if (typeof sessionId !== 'string' || sessionId === '' || sessionId === NIL_UUID) return { user, aud }
    if (!UUID.test(sessionId)) throw forbidden('bad_jwt', 'invalid claim: session_id claim must be a UUID')
    const session = await findSession(sql, sessionId)
    if (!session) throw forbidden('session_not_found', 'Session from session_id claim in JWT does not exist')
    return { user, session, aud }
  }

  const app = new Hono().basePath('/auth/v1')

  // Browsers call the service directly (supabase-js), and read the API version from error responses.
  app.use(cors({ origin: '*', exposeHeaders: ['X-Supabase-Api-Version', 'Retry-After', 'x-sb-error-code'] }))

  // The API gateway's key check (Kong's key-auth on hosted Supabase); the JWKS is public there too.
  app.use(async (c, next) => {
    if (c.req.path.endsWith('/.well-known/jwks.json')) return next()
    const apikey = c.req.header('apikey') ?? c.req.query('apikey')
    if (!apikey) {
      return c.json(
        {
          message: 'No API key found in request',
          hint: 'No `apikey` request header or url param was found.',
        },
        401,
      )
    }
    const role = await verifyJwt(apikey).then(
      (claims) => claims.role,
      () => undefined,
    )
    if (role !== 'anon' && role !== 'service_role') {
      return c.json(
        { message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' },
        401,
      )
    }
    return next()
  })

  app.get('/health', (c) =>
    c.json({
      version: 'local',
      name: 'GoTrue',
      description: 'GoTrue is a user registration and authentication API',
    }),
  )

  app.get('/.well-known/jwks.json', (c) => {
    c.header('Cache-Control', 'public, max-age=600')
    return c.json(keys.jwks)
  })

  app.get('/settings', (c) =>
    c.json({
      external: { anonymous_users: false, email: true, phone: false },
      disable_signup: false,
      mailer_autoconfirm: true,
      phone_autoconfirm: false,
      sms_provider: '',
      saml_enabled: false,
      saml_private_key_next_configured: false,
      passkeys_enabled: false,
    }),
  )

  app.post('/signup', async (c) => {
    const params = await readParams(c)
    const email = stringField(params, 'email')
    const phone = stringField(params, 'phone')
    const password = stringField(params, 'password')
    const data = objectField(params, 'data') ?? {}
    if (!email && !phone)
      throw unprocessable('anonymous_provider_disabled', 'Anonymous sign-ins are disabled')
    if (!password) throw badRequest('validation_failed', 'Signup requires a valid password')
    checkPasswordStrength(password, passwordMinLength)
    if (email && phone) {
      throw badRequest(
        'validation_failed',
        'Only an email address or phone number should be provided on signup.',
      )
    }
    if (phone) throw badRequest('phone_provider_disabled', 'Phone signups are disabled')
    const address = validateEmail(email)
    const alreadyRegistered = () => unprocessable('user_already_exists', 'User already registered')
    if (await findUserByEmail(sql, address)) throw alreadyRegistered()

    // Hashing is slow: never while holding a transaction (the embedded database has one session).
    const passwordHash = await bcrypt.hash(password, bcryptCost)
    const created = await sql
      .begin(async (tx) => {
        const id = await insertEmailUser(tx, { email: address, passwordHash, data })
        const issued = await startSession(tx, id, clientInfo(c))
        return { found: await loadUser(tx, id), issued }
      })
      .catch((error) => {
        // Two signups for one address at once: the unique index decides.
        if ((error as { code?: string }).code === '23505') throw alreadyRegistered()
        throw error
      })
    return c.json(await sessionResponse(created.found, created.issued))
  })

  async function passwordGrant(c: Context) {
    const params = await readParams(c)
    const email = stringField(params, 'email')
    const phone = stringField(params, 'phone')
    const password = stringField(params, 'password')
    if (email && phone) {
      throw badRequest(
        'validation_failed',
        'Only an email address or phone number should be provided on login.',
      )
    }
    if (phone) throw unprocessable('phone_provider_disabled', 'Phone logins are disabled')
    if (!email) throw badRequest('validation_failed', 'missing email or phone')

    const address = email.toLowerCase()
    const { ip = 'unknown' } = clientInfo(c)
    await limiter.admit(ip)
    const user = await findUserByEmail(sql, address)
    const valid = await bcrypt.compare(password, user?.encrypted_password || decoyHash)
    if (!user?.encrypted_password || !valid) {
      await limiter.failed(address, ip)
      throw badRequest('invalid_credentials', 'Invalid login credentials')
    }
    limiter.succeeded(address)
    const signedIn = await sql.begin(async (tx) => {
      const issued = await startSession(tx, user.id, clientInfo(c))
      return { found: await loadUser(tx, user.id), issued }
    })
    return c.json(await sessionResponse(signedIn.found, signedIn.issued))
  }

  async function refreshTokenGrant(c: Context) {
    const token = stringField(await readParams(c), 'refresh_token')
    if (!REFRESH_TOKEN_PATTERN.test(token))
      throw badRequest('validation_failed', 'Refresh token is not valid')
    const outcome = await sql.begin(async (tx) => {
      const rotation = await rotateRefreshToken(tx, token, reuseInterval)
      return 'issued' in rotation
        ? { ...rotation, found: await loadUser(tx, rotation.issued.session.user_id) }
        : rotation
    })
    if (!('issued' in outcome))
      throw badRequest('refresh_token_already_used', 'Invalid Refresh Token: Already Used')
    return c.json(await sessionResponse(outcome.found, outcome.issued))
  }

  app.post('/token', (c) => {
    const grantType = c.req.query('grant_type')
    if (grantType === 'password') return passwordGrant(c)
    if (grantType === 'refresh_token') return refreshTokenGrant(c)
    throw badRequest('invalid_credentials', 'unsupported_grant_type')
  })

  app.post('/logout', async (c) => {
    const { user, session } = await authenticate(c)
    const scope = c.req.query('scope') || 'global'
    if (!LOGOUT_SCOPES.includes(scope))
      throw badRequest('validation_failed', `Unsupported logout scope "${scope}"`)
    await endSessions(sql, user.id, session?.id, scope as LogoutScope)
    options.onSessionsEnded?.()
    return c.body(null, 204)
  })

  app.get('/user', async (c) => {
    const { user, aud } = await authenticate(c)
    if (!aud) throw badRequest('validation_failed', "Token audience doesn't match request audience")
    return c.json(userJson(await loadUser(sql, user.id)))
  })

  app.put('/user', async (c) => {
    const { user, session } = await authenticate(c)
    const params = await readParams(c)
    const email = stringField(params, 'email') && validateEmail(stringField(params, 'email'))
    const password =
      params.password === undefined || params.password === null ? undefined : stringField(params, 'password')
    const data = objectField(params, 'data')
    if (stringField(params, 'phone'))
      throw unprocessable('phone_provider_disabled', 'Phone logins are disabled')
    if (password !== undefined) checkPasswordStrength(password, passwordMinLength)
    if (objectField(params, 'app_metadata'))
      throw forbidden('not_admin', 'Updating app_metadata requires admin privileges')
    const emailChanges = !!email && email !== user.email
    const emailExists = () =>
      unprocessable('email_exists', 'A user with this email address has already been registered')
    if (emailChanges && (await emailTakenByAnother(sql, email, user.id))) throw emailExists()
    if (password && user.encrypted_password && (await bcrypt.compare(password, user.encrypted_password))) {
      throw unprocessable('same_password', 'New password should be different from the old password.')
    }
    const passwordHash = password === undefined ? undefined : await bcrypt.hash(password, bcryptCost)

    const updated = await sql
      .begin(async (tx) => {
        if (passwordHash !== undefined) {
          await tx`update auth.users set encrypted_password = ${passwordHash}, updated_at = now() where id = ${user.id}`
          // A new password means the old one may be known to someone else: other sessions end.
          await endSessions(tx, user.id, session?.id, 'others')
        }
        if (data) {
          const [{ raw_user_meta_data: current }] = await tx<
            Array<{ raw_user_meta_data: Record<string, unknown> | null }>
          >`
          select raw_user_meta_data from auth.users where id = ${user.id} for update`
          const merged = { ...current }
          for (const [key, value] of Object.entries(data)) {
            if (value === null) delete merged[key]
            else merged[key] = value
          }
          await tx`
          update auth.users set raw_user_meta_data = ${jsonb(tx, merged)}, updated_at = now()
          where id = ${user.id}`
        }
        if (emailChanges) {
          // No mailer here to confirm the new address with, so the change applies at once.
          await tx`update auth.users set email = ${email}, updated_at = now() where id = ${user.id}`
          await tx`
          update auth.identities set identity_data = identity_data || jsonb_build_object('email', ${email}::text),
                 updated_at = now()
          where user_id = ${user.id} and provider = 'email'`
        }
        return loadUser(tx, user.id)
      })
      .catch((error: { code?: string }) => {
        // Another account took the address between the check above and this update.
        throw error.code === '23505' ? emailExists() : error
      })
    if (passwordHash !== undefined) options.onSessionsEnded?.()
    return c.json(userJson(updated))
  })

  app.notFound((c) => errorResponse(c, new AuthError(404, 'not_found', 'Not Found')))

  app.onError((error, c) => {
    if (error instanceof AuthError) return errorResponse(c, error)
    console.error('gotrue:', error)
    return errorResponse(
      c,
      new AuthError(
        500,
        'unexpected_failure',
        'Unexpected failure, please check server logs for more information',
      ),
    )
  })

  return app
}
