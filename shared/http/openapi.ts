import { z } from '@hono/zod-openapi'
import { errorStatus } from './errors.ts'

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

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorSchema } },
})

/** The error responses every route can give; spread into each route's `responses`. */
export const errorResponses = {
  400: errorResponse('The body is not valid JSON (invalid_json)'),
  401: errorResponse('Missing, malformed, expired or forged access token (unauthorized)'),
  404: errorResponse('No such resource, or it belongs to someone else (not_found)'),
  413: errorResponse('The body is too large (payload_too_large)'),
  415: errorResponse('The body is not application/json (unsupported_media_type)'),
  422: errorResponse('The request breaks the schema (validation_failed, with details)'),
  500: errorResponse('An unexpected failure (internal)'),
} as const

/** The security requirement of routes that need a user's access token. */
export const bearerAuth = [{ bearerAuth: [] }]
