import { createRoute, type Hook, OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { cors } from 'hono/cors'
import { methodNotAllowed } from 'hono/method-not-allowed'
import { loadConfig } from '../config.ts'
import type { AppEnv } from './context.ts'
import { ApiError, type ErrorDetail, internalError, toApiError } from './errors.ts'

export type App = OpenAPIHono<AppEnv>

export interface AppOptions {
  /** Largest request body accepted, in bytes (default 1 MiB). */
  maxBodyBytes?: number
}

/** Deeper JSON is refused up front: recursive code (JSON.stringify, Postgres) would overflow on it. */
export const MAX_JSON_DEPTH = 64

/** How deeply `text` nests arrays and objects, counted without parsing (strings skipped). */
export function jsonDepth(text: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (inString) {
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
  return max
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The request's id: the caller's (e.g. the gateway's) when it looks like one, else a new UUID. */
function requestIdOf(c: Context<AppEnv>): string {
  const known = c.get('requestId')
  if (known) return known
  const incoming = c.req.header('x-request-id')
  const id = incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID()
  c.set('requestId', id)
  return id
}

/** Answers with the error envelope (and the request id, which every response carries). */
export function errorResponse(c: Context<AppEnv>, error: ApiError): Response {
  const requestId = requestIdOf(c)
  return c.json(error.toJSON(requestId), error.status, { ...error.headers, 'x-request-id': requestId })
}

/** zod issues as `{path, message}` details, one per problem. */
export function issueDetails(issues: readonly z.core.$ZodIssue[]): ErrorDetail[] {
  return issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }))
}

const validationHook: Hook<unknown, AppEnv, string, unknown> = (result, c) => {
  if (!result.success) {
    return errorResponse(
      c,
      new ApiError('validation_failed', 'The request is not valid', issueDetails(result.error.issues)),
    )
  }
}

/**
 * The Hono app every function starts from: `/<name>` base path, request id, CORS from the
 * configuration, body size cap, one error envelope for every failure, `/<name>/health` and
 * `/<name>/openapi.json` (OpenAPI 3.1, generated from the routes' zod schemas).
 */
export function createApp(name: string, options: AppOptions = {}): App {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).basePath(`/${name}`)

  app.use('*', async (c, next) => {
    const requestId = requestIdOf(c)
    c.header('x-request-id', requestId)
    await next()
    if (!c.res.headers.has('x-request-id')) c.res.headers.set('x-request-id', requestId)
  })
  app.use(
    '*',
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        errorResponse(
          c,
          new ApiError('method_not_allowed', 'Method not allowed', undefined, { Allow: methods.join(', ') }),
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
  app.use(
    '*',
    bodyLimit({
      maxSize: options.maxBodyBytes ?? 1024 * 1024,
      onError: () => {
        throw new ApiError('payload_too_large', 'The request body is too large')
      },
    }),
  )

  app.use('*', async (c, next) => {
    // Hono caches the text, so the validator's JSON parse reads it from memory.
    if (/^application\/([\w.-]+\+)?json/i.test(c.req.header('content-type') ?? '')) {
      if (jsonDepth(await c.req.text()) > MAX_JSON_DEPTH) {
        throw new ApiError('validation_failed', 'The request is not valid', [
          { path: '', message: `JSON may nest at most ${MAX_JSON_DEPTH} levels deep` },
        ])
      }
    }
    await next()
  })

  app.notFound((c) => errorResponse(c, new ApiError('not_found', 'Not found')))
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
