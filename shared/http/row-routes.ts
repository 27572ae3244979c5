import { createRoute, type z } from '@hono/zod-openapi'
import type { ServiceContext } from '../db/with-user.ts'
import type { RowChange, RowVersion } from '../domain/rows.ts'
import { IdParamsSchema } from '../domain/schemas.ts'
import type { App } from './app.ts'
import { requireUser } from './auth.ts'
import {
  conflictResponse,
  etagHeader,
  expectedVersions,
  IdempotencyHeaderSchema,
  IfMatchHeaderSchema,
  idempotencyOf,
  preconditionResponse,
  rowResponse,
  runIdempotent,
} from './concurrency.ts'
import { serviceContext } from './context.ts'
import { bearerAuth, errorResponses } from './openapi.ts'
import { pageSchema } from './pagination.ts'

// The routes of a resource the API serves row by row (list, create, get, update, delete), each a
// `{ route, register(app) }` like a hand-written route module. Every one needs a user's token,
// documents the shared error responses, and hands the validated request to a service verb.
//
// @hono/zod-openapi cannot work out a handler's types from a generic schema, so inside a builder
// the route is declared with the caller's schemas as plain `z.ZodType`s, and a validated part is
// read as the output of the schema that validated it. The caller's verb is type-checked against
// its schemas where it is passed in.

/** A service verb as a route calls it: the request's service context and its validated input. */
export type Verb<Input, Output> = (args: { ctx: ServiceContext; input: Input }) => Promise<Output>

/** A row the API answers with: its `updated_at` is its ETag. */
type Versioned = { updated_at: string }

/** A list page, as every list route answers it. */
type Page<Item> = { data: Item[]; next_cursor: string | null }

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

/** What every route here declares besides its method, request and responses: its doc, and a user's token. */
const userRoute = ({ path, summary, description }: RouteDoc) => ({
  path,
  summary,
  description,
  security: bearerAuth,
  middleware: [requireUser] as [typeof requireUser],
})

const jsonBody = (schema: z.ZodType) => ({
  required: true,
  content: { 'application/json': { schema } },
})

const rowContent = ({ rowSchema, rowDescription }: RowOutput<z.ZodType>) => ({
  description: rowDescription,
  headers: etagHeader,
  content: { 'application/json': { schema: rowSchema } },
})

/** A route's `Idempotent-Replayed` header: set on a response replayed for a repeated key. */
const replayHeaders = (replayed: boolean): Record<string, string> =>
  replayed ? { 'Idempotent-Replayed': 'true' } : {}

interface ListOptions<Query extends z.ZodObject, Item extends z.ZodType> extends RouteDoc {
  querySchema: Query
  itemSchema: Item
  /** The response's description, e.g. 'A page of notes'. */
  pageDescription: string
}

function listRouteOf<Request extends { params?: typeof IdParamsSchema; query: z.ZodObject }>(
  options: ListOptions<z.ZodObject, z.ZodType>,
  request: Request,
) {
  return createRoute({
    method: 'get',
    ...userRoute(options),
    request,
    responses: {
      200: {
        description: options.pageDescription,
        content: { 'application/json': { schema: pageSchema(options.itemSchema) } },
      },
      ...errorResponses,
    },
  })
}

/** GET a page of rows: the query (`limit`, `cursor` and filters) is the verb's input. */
export function listRoute<Query extends z.ZodObject, Item extends z.ZodType>(
  options: ListOptions<Query, Item> & { list: Verb<z.output<Query>, Page<z.output<Item>>> },
) {
  const query: z.ZodObject = options.querySchema
  const route = listRouteOf(options, { query })
  const register = (app: App): void => {
    app.openapi(route, async (c) => {
      const input = c.req.valid('query') as z.output<Query>
      return c.json(await options.list({ ctx: serviceContext(c), input }), 200)
    })
  }
  return { route, register }
}

/** GET a page of the rows that belong to one row (`/{id}/tasks`): its id joins the query as the input. */
export function childListRoute<Query extends z.ZodObject, Item extends z.ZodType>(
  options: ListOptions<Query, Item> & {
    list: Verb<z.output<Query> & { id: string }, Page<z.output<Item>>>
  },
) {
  const query: z.ZodObject = options.querySchema
  const route = listRouteOf(options, { params: IdParamsSchema, query })
  const register = (app: App): void => {
    app.openapi(route, async (c) => {
      const input = { ...c.req.valid('param'), ...(c.req.valid('query') as z.output<Query>) }
      return c.json(await options.list({ ctx: serviceContext(c), input }), 200)
    })
  }
  return { route, register }
}

/**
 * POST a row: 201 with the row and its ETag. An `Idempotency-Key` makes a retry safe: the first
 * response is stored under `idempotencyScope` (e.g. 'notes.create') and replayed to a repeat.
 */
export function createRowRoute<Body extends z.ZodType, Row extends z.ZodType<Versioned>>(
  options: RouteDoc &
    RowOutput<Row> & {
      bodySchema: Body
      idempotencyScope: string
      create: Verb<z.output<Body>, z.output<Row>>
    },
) {
  const route = createRoute({
    method: 'post',
    ...userRoute(options),
    request: { headers: IdempotencyHeaderSchema, body: jsonBody(options.bodySchema) },
    responses: { 201: rowContent(options), ...errorResponses, ...conflictResponse },
  })
  const register = (app: App): void => {
    app.openapi(route, async (c) => {
      const input = c.req.valid('json') as z.output<Body>
      const key = c.req.valid('header')['idempotency-key']
      const { result, replayed } = await runIdempotent(
        serviceContext(c),
        idempotencyOf(key, options.idempotencyScope, input),
        (ctx) => options.create({ ctx, input }),
      )
      return rowResponse(c, result, 201, replayHeaders(replayed))
    })
  }
  return { route, register }
}

/** GET one row by id: 200 with the row and its ETag. */
export function getRowRoute<Row extends z.ZodType<Versioned>>(
  options: RouteDoc & RowOutput<Row> & { get: Verb<{ id: string }, z.output<Row>> },
) {
  const route = createRoute({
    method: 'get',
    ...userRoute(options),
    request: { params: IdParamsSchema },
    responses: { 200: rowContent(options), ...errorResponses },
  })
  const register = (app: App): void => {
    app.openapi(route, async (c) => {
      const row = await options.get({ ctx: serviceContext(c), input: c.req.valid('param') })
      return rowResponse(c, row, 200)
    })
  }
  return { route, register }
}

/**
 * PUT the fields given of a row, conditional on `If-Match`: 200 with the row and its new ETag, 412
 * if the row changed since. `conflicts: false` leaves out the 409 of an update that breaks no rule.
 */
export function updateRowRoute<Body extends z.ZodType, Row extends z.ZodType<Versioned>>(
  options: RouteDoc &
    RowOutput<Row> & {
      bodySchema: Body
      conflicts?: boolean
      update: Verb<RowChange<z.output<Body>>, z.output<Row>>
    },
) {
  const route = createRoute({
    method: 'put',
    ...userRoute(options),
    request: { params: IdParamsSchema, headers: IfMatchHeaderSchema, body: jsonBody(options.bodySchema) },
    responses: {
      200: rowContent(options),
      ...errorResponses,
      ...(options.conflicts === false ? {} : conflictResponse),
      ...preconditionResponse,
    },
  })
  const register = (app: App): void => {
    app.openapi(route, async (c) => {
      const row = await options.update({
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
export function deleteRowRoute(options: RouteDoc & { remove: Verb<RowVersion, void> }) {
  const route = createRoute({
    method: 'delete',
    ...userRoute(options),
    request: { params: IdParamsSchema, headers: IfMatchHeaderSchema },
    responses: { 204: { description: 'Deleted' }, ...errorResponses, ...preconditionResponse },
  })
  const register = (app: App): void => {
    app.openapi(route, async (c) => {
      await options.remove({
        ctx: serviceContext(c),
        input: { id: c.req.valid('param').id, expected: expectedVersions(c.req.valid('header')['if-match']) },
      })
      return c.body(null, 204)
    })
  }
  return { route, register }
}
