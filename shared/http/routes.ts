import { createRoute, type RouteConfig, type z } from '@hono/zod-openapi'
import type { ServiceContext } from '../core/context.ts'
import type { Page } from '../core/pages.ts'
import { pageSchema } from '../core/pages.ts'
import type { RowChange, RowVersion } from '../core/schemas.ts'
import { runIdempotent } from '../db/idempotency.ts'
import type { App } from './app.ts'
import {
  etagHeader,
  expectedVersions,
  IdempotencyHeaderSchema,
  IfMatchHeaderSchema,
  idempotencyOf,
  replayHeaders,
  rowResponse,
} from './concurrency.ts'
import { serviceContext } from './context.ts'
import { bearerAuth, errorResponse, errorResponses } from './openapi.ts'
import { IdParamsSchema } from './params.ts'
import { requireServiceKey, serviceKeyAuth } from './require-service.ts'
import { requireUser } from './require-user.ts'

// The one way to write a route. `userRoute()` declares a route that needs a user's token: the
// token check runs first and the shared error responses are documented. Resources served row by
// row use the builders below, which take the verb and derive the request from the verb's own
// schemas; every route module is a `{ route, register(app) }`.
//
// @hono/zod-openapi cannot work out a handler's types from a generic schema, so inside a builder
// the route is declared with the verb's schemas as plain `z.ZodType`s, and a validated part is
// read as the output of the schema that validated it. The routes validate with the verb's own
// schemas, so they hand the verb's `trusted` body what its schema produced.

/**
 * A route that needs a user's access token, with the shared error responses and its own; its
 * requests count against the user's and the address's rate limits (429).
 */
export function userRoute<const Config extends Omit<RouteConfig, 'security' | 'middleware'>>(config: Config) {
  return createRoute({
    ...config,
    security: bearerAuth,
    middleware: [requireUser] as [typeof requireUser],
    responses: { ...errorResponses, 429: errorResponse(429, rateLimitDescription), ...config.responses },
  })
}

const rateLimitDescription =
  'Over the requests a user (RATE_LIMIT_PER_USER_PER_MINUTE, default 1200) or a client address ' +
  '(RATE_LIMIT_PER_ADDRESS_PER_MINUTE, default 6000) may make a minute; see Retry-After (rate_limited)'

/** A JSON response of this schema. */
export const jsonResponse = <Schema extends z.ZodType>(description: string, schema: Schema) => ({
  description,
  content: { 'application/json': { schema } },
})

/** A required JSON request body of this schema. */
export const jsonBody = <Schema extends z.ZodType>(schema: Schema) => ({
  required: true,
  content: { 'application/json': { schema } },
})

/** What the builders need of a verb: its input schema, and its body for input already validated. */
interface RouteVerb<Schema extends z.ZodType, Input, Output> {
  readonly verbName: string
  readonly input: Schema
  trusted(args: { ctx: ServiceContext; input: Input }): Promise<Output>
}

/** A row the API answers with: its `updated_at` is its ETag. */
type Versioned = { updated_at: string }

/** What a route says about itself in the OpenAPI document. */
interface RouteDoc {
  /** The path under the function's base path, with `{id}` for a row's id. */
  path: string
  summary: string
  description?: string
}

/** The single row a route answers with, and the response's description (e.g. 'The note'). */
interface RowOutput<Row extends z.ZodType> {
  rowSchema: Row
  rowDescription: string
}

const rowContent = ({ rowSchema, rowDescription }: RowOutput<z.ZodType>, versioned = true) => ({
  ...jsonResponse(rowDescription, rowSchema),
  ...(versioned ? { headers: etagHeader } : {}),
})

const docOf = ({ path, summary, description }: RouteDoc) => ({ path, summary, description })

interface ListOptions<Item extends z.ZodType> extends RouteDoc {
  itemSchema: Item
  /** The response's description, e.g. 'A page of notes'. */
  pageDescription: string
}

const pageContent = (options: ListOptions<z.ZodType>) =>
  jsonResponse(options.pageDescription, pageSchema(options.itemSchema))

/** GET a page of rows: the query (`limit`, `cursor` and filters) is the verb's input. */
export function listRoute<Query extends z.ZodObject, Item extends z.ZodType>(
  options: ListOptions<Item> & { list: RouteVerb<Query, z.output<Query>, Page<z.output<Item>>> },
) {
  const query: z.ZodObject = options.list.input
  const route = userRoute({
    method: 'get',
    ...docOf(options),
    request: { query },
    responses: { 200: pageContent(options) },
  })
  const register = (app: App): void => {
    app.openapi(route, async (c) => {
      const input = c.req.valid('query') as z.output<Query>
      return c.json(await options.list.trusted({ ctx: serviceContext(c), input }), 200)
    })
  }
  return { route, register }
}

/** GET a page of the rows that belong to one row (`/{id}/tasks`): the verb's input is the query and the id. */
export function childListRoute<Query extends z.ZodObject, Item extends z.ZodType>(
  options: ListOptions<Item> & { list: RouteVerb<Query, z.output<Query>, Page<z.output<Item>>> },
) {
  const query: z.ZodObject = options.list.input.omit({ id: true })
  const route = userRoute({
    method: 'get',
    ...docOf(options),
    request: { params: IdParamsSchema, query },
    responses: { 200: pageContent(options) },
  })
  const register = (app: App): void => {
    app.openapi(route, async (c) => {
      const input = { ...c.req.valid('param'), ...c.req.valid('query') } as z.output<Query>
      return c.json(await options.list.trusted({ ctx: serviceContext(c), input }), 200)
    })
  }
  return { route, register }
}

/**
 * POST a row: 201 with the row (and its ETag, unless `versioned: false`). An `Idempotency-Key`
 * makes a retry safe: the first response is stored under the verb's name and replayed to a repeat.
 */
export function createRowRoute<Body extends z.ZodType, Row extends z.ZodType>(
  options: RouteDoc &
    RowOutput<Row> & { create: RouteVerb<Body, z.output<Body>, z.output<Row>>; versioned?: boolean },
) {
  const { create, versioned = true } = options
  const body: z.ZodType = create.input
  const route = userRoute({
    method: 'post',
    ...docOf(options),
    request: { headers: IdempotencyHeaderSchema, body: jsonBody(body) },
    responses: { 201: rowContent(options, versioned), 409: errorResponse(409) },
  })
  const register = (app: App): void => {
    app.openapi(route, async (c) => {
      const input = c.req.valid('json') as z.output<Body>
      const { result, replayed } = await runIdempotent(
        serviceContext(c),
        idempotencyOf(c.req.valid('header')['idempotency-key'], create.verbName, input),
        (ctx) => create.trusted({ ctx, input }),
      )
      return versioned
        ? rowResponse(c, result as Versioned, 201, replayHeaders(replayed))
        : c.json(result, 201, replayHeaders(replayed))
    })
  }
  return { route, register }
}

/** GET one row by id: 200 with the row and its ETag. */
export function getRowRoute<Row extends z.ZodType<Versioned>>(
  options: RouteDoc & RowOutput<Row> & { get: RouteVerb<z.ZodType, { id: string }, z.output<Row>> },
) {
  const route = userRoute({
    method: 'get',
    ...docOf(options),
    request: { params: IdParamsSchema },
    responses: { 200: rowContent(options) },
  })
  const register = (app: App): void => {
    app.openapi(route, async (c) => {
      const row = await options.get.trusted({ ctx: serviceContext(c), input: c.req.valid('param') })
      return rowResponse(c, row, 200)
    })
  }
  return { route, register }
}

/**
 * PUT the fields given of a row, conditional on `If-Match`: 200 with the row and its new ETag, 412
 * if the row changed since. The body is the verb's `changes`. `conflicts: false` leaves out the 409
 * of an update that breaks no rule.
 */
export function updateRowRoute<Body extends z.ZodType, Row extends z.ZodType<Versioned>>(
  options: RouteDoc &
    RowOutput<Row> & {
      update: RouteVerb<z.ZodObject<{ changes: Body }>, RowChange<z.output<Body>>, z.output<Row>>
      conflicts?: boolean
    },
) {
  const body: z.ZodType = options.update.input.shape.changes
  const route = userRoute({
    method: 'put',
    ...docOf(options),
    request: { params: IdParamsSchema, headers: IfMatchHeaderSchema, body: jsonBody(body) },
    responses: {
      200: rowContent(options),
      ...(options.conflicts === false ? {} : { 409: errorResponse(409) }),
      412: errorResponse(412),
    },
  })
  const register = (app: App): void => {
    app.openapi(route, async (c) => {
      const row = await options.update.trusted({
        ctx: serviceContext(c),
        input: {
          id: c.req.valid('param').id,
          changes: c.req.valid('json') as z.output<Body>,
          expected: expectedVersions(c.req.valid('header')['if-match']),
        },
      })
      return rowResponse(c, row, 200)
    })
  }
  return { route, register }
}

/** DELETE a row, conditional on `If-Match`: 204, or 412 if the row changed since. */
export function deleteRowRoute(options: RouteDoc & { remove: RouteVerb<z.ZodType, RowVersion, void> }) {
  const route = userRoute({
    method: 'delete',
    ...docOf(options),
    request: { params: IdParamsSchema, headers: IfMatchHeaderSchema },
    responses: { 204: { description: 'Deleted' }, 412: errorResponse(412) },
  })
  const register = (app: App): void => {
    app.openapi(route, async (c) => {
      await options.remove.trusted({
        ctx: serviceContext(c),
        input: { id: c.req.valid('param').id, expected: expectedVersions(c.req.valid('header')['if-match']) },
      })
      return c.body(null, 204)
    })
  }
  return { route, register }
}

/** A route anyone may call (signing up and in): the shared error responses and its own. */
export function publicRoute<const Config extends Omit<RouteConfig, 'security' | 'middleware'>>(
  config: Config,
) {
  return createRoute({ ...config, responses: { ...errorResponses, ...config.responses } })
}

/**
 * A route the platform calls with the service key, not a user (the due check of schedules): the key
 * check runs first, and a user's access token is refused with 401.
 */
export function serviceRoute<const Config extends Omit<RouteConfig, 'security' | 'middleware'>>(
  config: Config,
) {
  return createRoute({
    ...config,
    security: serviceKeyAuth,
    middleware: [requireServiceKey] as [typeof requireServiceKey],
    responses: { ...errorResponses, ...config.responses },
  })
}
