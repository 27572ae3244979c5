import { createRoute, z } from '@hono/zod-openapi'
import type { App } from '../../../shared/http/app.ts'
import { errorResponse, errorResponses } from '../../../shared/http/openapi.ts'
import { requireServiceRole, serviceRoleAuth } from '../../../shared/http/require-service-role.ts'
import { jsonResponse } from '../../../shared/http/routes.ts'
import { IdSchema, listOf } from '../../../shared/core/schemas.ts'
import { drainUsers, usersWithWork } from '../../../shared/knowledge/indexing.ts'

/** Users one call drains (a round of jobs each); the next call, a minute on, takes the rest. */
const USERS_PER_CALL = 50

export const DrainDueBodySchema = z
  .strictObject({
    user_ids: listOf(IdSchema)
      .optional()
      .openapi({ description: 'Only these users (default: every user with work, up to 50 a call)' }),
  })
  .openapi('KnowledgeDrainDueRequest')

export const DrainDueSchema = z
  .object({ users: z.number().int().openapi({ description: 'Users whose queues are being drained' }) })
  .openapi('KnowledgeDrainDue')

export const route = createRoute({
  method: 'post',
  path: '/knowledge/drain-due',
  summary: 'For the platform: drain every user’s due knowledge work (retries, missed notes, model changes)',
  description:
    'Called every minute with the service-role key, by pg_cron through pg_net on hosted Supabase ' +
    '(migration …_knowledge_drain.sql) and by a timer in the local stack. Each user with work gets a round ' +
    'of jobs, run as that user under their RLS, in the background.',
  security: serviceRoleAuth,
  middleware: [requireServiceRole] as [typeof requireServiceRole],
  request: { body: { required: false, content: { 'application/json': { schema: DrainDueBodySchema } } } },
  responses: {
    ...errorResponses,
    202: jsonResponse('The users whose queues are being drained', DrainDueSchema),
    401: errorResponse(401, 'Not the service-role key (unauthorized)'),
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    // Validated when sent as JSON; no body at all is `{}`: every user with work.
    const { user_ids } = c.req.valid('json') as z.output<typeof DrainDueBodySchema>
    const users = await usersWithWork(USERS_PER_CALL, user_ids)
    // Queued for this instance's drain, which works after the response.
    drainUsers(users)
    return c.json({ users: users.length }, 202)
  })
}
