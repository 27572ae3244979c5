import { createRoute, type Hook, OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { cors } from 'hono/cors'
import { methodNotAllowed } from 'hono/method-not-allowed'
import { requestId } from 'hono/request-id'
import { loadConfig } from '../config.ts'
import {
  DomainError,
  internalError,
  issueDetails,
  PayloadTooLargeError,
  ValidationError,
} from '../core/errors.ts'
import type { AppEnv } from './context.ts'
import { toApiError } from './errors.ts'

export type App = OpenAPIHono<AppEnv>

export interface AppOptions {
  /** Largest request body accepted, in bytes (default 1 MiB). */
  maxBodyBytes?: number
  /**
   * Routes that take larger bodies (uploads), by their path under the base path
   * (`'/documents/process'`): the largest body each accepts, in bytes.
   */
  largeBodies?: Record<string, number>
}

/** Deeper JSON is refused up front: recursive code (JSON.stringify, Postgres) would overflow on it. */
export const MAX_JSON_DEPTH = 64

/** What one pass over a JSON text tells before it is parsed (strings' contents skipped). */
export interface JsonScan {
  /** How deeply arrays and objects nest. */
  depth: number
  /** Whether a string holds a `\uD800`-style escape of half a surrogate pair: not Unicode text. */
  loneSurrogate: boolean
}

const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff
const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff

export function scanJson(text: string): JsonScan {
  let depth = 0
  let max = 0
  let inString = false
  let loneSurrogate = false
  // A high surrogate escape waiting for its low half, which must come next.
  let pendingHigh = false
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (inString) {
      if (char === '\\' && text[i + 1] === 'u') {
        const code = Number.parseInt(text.slice(i + 2, i + 6), 16)
        if (pendingHigh && !isLow(code)) loneSurrogate = true
        else if (!pendingHigh && isLow(code)) loneSurrogate = true
        pendingHigh = !pendingHigh && isHigh(code)
        i += 5
        continue
      }
      if (pendingHigh) loneSurrogate = true
      pendingHigh = false
      if (char === '\\') i++
      else if (char === '"') inString = false
    } else if (char === '"') {
      inString = true
    } else if (char === '{' || char === '[') {
      max = Math.max(max, ++depth)
    } else if (char === '}' || char === ']') {
      depth--
    }
  }
  return { depth: max, loneSurrogate }
}

/** How deeply `text` nests arrays and objects, counted without parsing (strings skipped). */
export const jsonDepth = (text: string): number => scanJson(text).depth

/** Whether a request that may carry a body (POST, PUT, PATCH) has one: a length above zero, or chunks. */
async function hasBody(c: Context): Promise<boolean> {
  if (!['POST', 'PUT', 'PATCH'].includes(c.req.method)) return false
  const length = c.req.header('content-length')
  if (length !== undefined) return Number(length) > 0
  // A proxy may send an empty body in chunks: only reading tells.
  return c.req.raw.body !== null && (await c.req.text()).length > 0
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * The request's id: the caller's (e.g. the gateway's) when it looks like one, else a new UUID.
 * hono/request-id keeps an incoming id only of `[\w=-]`; ours may also hold `.` and `:`.
 */
const newRequestId = (c: Context) => {
  const incoming = c.req.header('x-request-id')
  return incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID()
}

/** The request id, also for an error raised before the request-id middleware ran. */
function requestIdOf(c: Context<AppEnv>): string {
  const known = c.get('requestId')
  if (known) return known
  const id = newRequestId(c)
  c.set('requestId', id)
  return id
}

/** Answers with the error envelope (and the request id, which every response carries). */
export function errorResponse(c: Context<AppEnv>, error: DomainError): Response {
  const requestId = requestIdOf(c)
  return c.json(error.toJSON(requestId), error.status, { ...error.headers, 'x-request-id': requestId })
}

const validationHook: Hook<unknown, AppEnv, string, unknown> = (result, c) => {
  if (!result.success) return errorResponse(c, new ValidationError(issueDetails(result.error.issues)))
}

/**
 * The Hono app every function starts from: `/<name>` base path, request id, CORS from the
 * configuration, body size cap, one error envelope for every failure, `/<name>/health` and
 * `/<name>/openapi.json` (OpenAPI 3.1, generated from the routes' zod schemas).
 */
export function createApp(name: string, options: AppOptions = {}): App {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).basePath(`/${name}`)

  app.use('*', requestId({ limitLength: 128, generator: newRequestId }))
  app.use('*', async (c, next) => {
    await next()
    if (!c.res.headers.has('x-request-id')) c.res.headers.set('x-request-id', c.get('requestId'))
  })
  app.use(
    '*',
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        errorResponse(
          c,
          new DomainError('method_not_allowed', 'Method not allowed', undefined, {
            Allow: methods.join(', '),
          }),
        ),
    }),
  )
  app.use(
    '*',
    cors({
      origin: (origin) => {
        const allowed = loadConfig().corsOrigins
        return allowed.includes('*') ? '*' : allowed.includes(origin) ? origin : null
      },
      allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      allowHeaders: [
        'Authorization',
        'apikey',
        'Content-Type',
        'x-client-info',
        'If-Match',
        'Idempotency-Key',
        'x-request-id',
      ],
      exposeHeaders: ['x-request-id', 'ETag', 'Retry-After', 'Location'],
      maxAge: 600,
    }),
  )
  const limitOf = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new PayloadTooLargeError(`The request body may be at most ${maxSize} bytes`)
      },
    })
  const defaultLimit = limitOf(options.maxBodyBytes ?? 1024 * 1024)
  const largeLimits = new Map(
    Object.entries(options.largeBodies ?? {}).map(([path, bytes]) => [`/${name}${path}`, limitOf(bytes)]),
  )
  app.use('*', (c, next) => (largeLimits.get(c.req.path) ?? defaultLimit)(c, next))

  app.use('*', async (c, next) => {
    const type = c.req.header('content-type')
    if (type === undefined) {
      // A body must say what it is: without a type it is not read as JSON (nor as anything else).
      if (await hasBody(c))
        throw new DomainError('unsupported_media_type', 'The request body must be application/json')
    } else if (/^application\/([\w.-]+\+)?json/i.test(type)) {
      const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type)?.[1]
      if (charset && !/^utf-?8$/i.test(charset)) {
        throw new DomainError('unsupported_media_type', 'A JSON body must be UTF-8 (charset=utf-8, or none)')
      }
      // Hono caches the text, so the validator's JSON parse reads it from memory.
      const scan = scanJson(await c.req.text())
      if (scan.depth > MAX_JSON_DEPTH) {
        throw new ValidationError([
          { path: '', message: `JSON may nest at most ${MAX_JSON_DEPTH} levels deep` },
        ])
      }
      // Postgres text cannot hold half a surrogate pair: refused here, whichever field it is in.
      if (scan.loneSurrogate) {
        throw new ValidationError([
          { path: '', message: 'Text must be valid Unicode: a string holds a lone surrogate' },
        ])
      }
    }
    await next()
  })

  app.notFound((c) => errorResponse(c, new DomainError('not_found', 'Not found')))
  app.onError((error, c) => {
    const known = toApiError(error)
    if (known) return errorResponse(c, known)
    console.error(
      JSON.stringify({
        level: 'error',
        function: name,
        request_id: requestIdOf(c),
        error: String(error),
        stack: error.stack,
      }),
    )
    return errorResponse(c, internalError())
  })

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'A Supabase access token',
  })
  app.openapi(
    createRoute({
      method: 'get',
      path: '/health',
      summary: 'Liveness check',
      responses: {
        200: {
          description: 'The function is up',
          content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } },
        },
      },
    }),
    (c) => c.json({ status: 'ok' as const }, 200),
  )
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: `Consilium ${name} API`, version: '1.0.0' },
  })
  return app
}
