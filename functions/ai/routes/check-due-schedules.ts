import { parseInput } from '../../../shared/core/verb.ts'
import { checkDueSchedules } from '../../../shared/ai/due-schedules.ts'
import { DueCheckResultSchema, DueCheckSchema } from '../../../shared/ai/schedule-schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { errorResponse } from '../../../shared/http/openapi.ts'
import { SERVICE_KEY_SCHEME } from '../../../shared/http/require-service.ts'
import { jsonResponse, serviceRoute } from '../../../shared/http/routes.ts'

export const route = serviceRoute({
  method: 'post',
  path: '/schedules/due',
  summary: 'The due check: start the runs of every schedule that is due (the platform calls it)',
  description:
    'Called every minute by pg_cron through pg_net on hosted Supabase, and by the local stack’s timer ' +
    '(SCHEDULES_CHECK_INTERVAL_MS), with `Authorization: Bearer` and the service_role key or ' +
    'SCHEDULES_CHECK_SECRET; a user’s token is refused. Claims each due schedule exactly once, however many ' +
    'checks run at the same moment, moves its next_run_at on, and starts its run as its owner, under their ' +
    'RLS. The body may be `{}`.',
  request: {
    body: { required: false, content: { 'application/json': { schema: DueCheckSchema } } },
  },
  responses: {
    200: jsonResponse(
      'The runs started (or why one could not start), and schedules only moved',
      DueCheckResultSchema,
    ),
    401: errorResponse(401, 'No service key (a user’s access token is not one) (unauthorized)'),
  },
})

export function register(app: App): void {
  app.openAPIRegistry.registerComponent('securitySchemes', SERVICE_KEY_SCHEME, {
    type: 'http',
    scheme: 'bearer',
    description: 'The project’s service_role key, or SCHEDULES_CHECK_SECRET',
  })
  app.openapi(route, async (c) => {
    const input = parseInput(DueCheckSchema, (c.req.valid('json') as unknown) ?? {})
    return c.json(await checkDueSchedules(input), 200)
  })
}
