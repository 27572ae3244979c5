import { z } from '@hono/zod-openapi'
import { errorStatus } from '../core/errors.ts'

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(errorStatus) as [keyof typeof errorStatus, ...(keyof typeof errorStatus)[]]),
      message: z.string(),
      details: z
        .array(z.object({ path: z.string(), message: z.string() }))
        .optional()
        .openapi({ description: 'One entry per problem (validation_failed)' }),
      request_id: z.string(),
    }),
  })
  .openapi('Error')

/** What each error status means, as the OpenAPI documents describe it. */
const errorDescriptions = {
  400: 'The body is not valid JSON (invalid_json)',
  401: 'Missing, malformed, expired or forged access token (unauthorized)',
  404: 'No such resource, or it belongs to someone else (not_found)',
  405: 'The path does not take this method; see Allow (method_not_allowed)',
  409: 'The request conflicts with the current state (conflict)',
  412: 'If-Match named a version that is no longer current (precondition_failed)',
  413: 'The body is too large (payload_too_large)',
  415: 'The body is not application/json (unsupported_media_type)',
  422: 'The request breaks the schema (validation_failed, with details)',
  429: 'Too many requests; see Retry-After (rate_limited)',
  500: 'An unexpected failure (internal)',
  503: 'A service this route needs is not configured or not reachable (provider_unavailable)',
} as const

export type ErrorResponseStatus = keyof typeof errorDescriptions

/** One documented error response, in the envelope; `description` says what it means on this route. */
export const errorResponse = (
  status: ErrorResponseStatus,
  description: string = errorDescriptions[status],
) => ({
  description,
  content: { 'application/json': { schema: ErrorSchema } },
})

/** The error responses every route can give; a route adds those of the others that apply to it. */
export const errorResponses = {
  400: errorResponse(400),
  401: errorResponse(401),
  404: errorResponse(404),
  413: errorResponse(413),
  415: errorResponse(415),
  422: errorResponse(422),
  500: errorResponse(500),
} as const

/** The security requirement of routes that need a user's access token. */
export const bearerAuth = [{ bearerAuth: [] }]
