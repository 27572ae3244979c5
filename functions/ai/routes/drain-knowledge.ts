import { z } from '@hono/zod-openapi'
import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { jsonResponse, userRoute } from '../../../shared/http/routes.ts'
import { drainSoon, queuedJobs } from '../../../shared/knowledge/indexing.ts'

export const DrainAcceptedSchema = z
  .object({ queued: z.number().int().openapi({ description: 'Your sources waiting to be indexed' }) })
  .openapi('KnowledgeDrain')

export const route = userRoute({
  method: 'post',
  path: '/knowledge/drain',
  summary: 'Index your queued notes and documents now, in the background',
  description:
    'The notes function calls this after a note is saved (with the user’s token), so a note becomes ' +
    'searchable within seconds; a periodic drain picks up what it misses. Answers at once; the work goes on ' +
    'after the response, one drain at a time per user.',
  responses: { 202: jsonResponse('The drain has started', DrainAcceptedSchema) },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c)
    const queued = await queuedJobs(ctx)
    if (queued > 0) drainSoon(ctx)
    return c.json({ queued }, 202)
  })
}
