import { createRoute } from '@hono/zod-openapi'
import type { App } from '../../../shared/http/app.ts'
import { requireUser } from '../../../shared/http/auth.ts'
import {
  conflictResponse,
  etagHeader,
  IdempotencyHeaderSchema,
  idempotencyOf,
  rowResponse,
  runIdempotent,
} from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { bearerAuth, errorResponses } from '../../../shared/http/openapi.ts'
import { createReflection } from '../../../shared/planning/reflections.ts'
import { ReflectionCreateSchema, ReflectionSchema } from '../../../shared/planning/schemas.ts'

export const route = createRoute({
  method: 'post',
  path: '/reflections',
  summary: 'Write a reflection',
  security: bearerAuth,
  middleware: [requireUser] as const,
  request: {
    headers: IdempotencyHeaderSchema,
    body: { required: true, content: { 'application/json': { schema: ReflectionCreateSchema } } },
  },
  responses: {
    201: {
      description: 'The reflection',
      headers: etagHeader,
      content: { 'application/json': { schema: ReflectionSchema } },
    },
    ...errorResponses,
    ...conflictResponse,
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const input = c.req.valid('json')
    const idempotency = idempotencyOf(c.req.valid('header')['idempotency-key'], 'reflections.create', input)
    const { result, replayed } = await runIdempotent(serviceContext(c), idempotency, (ctx) =>
      createReflection({ ctx, input }),
    )
    return rowResponse(c, result, 201, replayed ? { 'Idempotent-Replayed': 'true' } : {})
  })
}
