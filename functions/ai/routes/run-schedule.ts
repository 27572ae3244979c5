import { realtimeRest } from '../../../shared/ai/broadcast.ts'
import { launchRun, scheduleNotFound, startScheduledRun } from '../../../shared/ai/schedules.ts'
import { RunSchema } from '../../../shared/ai/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { errorResponse } from '../../../shared/http/openapi.ts'
import { IdParamsSchema } from '../../../shared/http/params.ts'
import { jsonResponse, userRoute } from '../../../shared/http/routes.ts'

export const route = userRoute({
  method: 'post',
  path: '/schedules/{id}/run',
  summary: 'Run a schedule now (when it is next due does not change)',
  description:
    'Starts the schedule’s run as a due time would: its prompt as your message in its conversation (made now ' +
    'on its first run) and a run of its agent, worked in the background with its output on the private ' +
    'Realtime channel `conversation:{id}`. With no AI provider configured the run is answered failed ' +
    '(provider_unavailable).',
  request: { params: IdParamsSchema },
  responses: {
    202: jsonResponse('The run, queued (or failed, when no provider is configured)', RunSchema),
    409: errorResponse(409, 'The schedule’s agent is turned off (conflict)'),
    429: errorResponse(
      429,
      'Over your runs at once or a minute (AI_MAX_CONCURRENT_RUNS, AI_RUNS_PER_MINUTE), or the request ' +
        'limits; see Retry-After (rate_limited)',
    ),
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c)
    const token = (c.req.header('authorization') ?? '').replace(/^Bearer\s+/i, '').trim()
    const started = await startScheduledRun(ctx, c.req.valid('param').id)
    if (!started) throw scheduleNotFound()
    // The work's own transactions count against the user's limits, not the client address's.
    const run = await launchRun({ ...ctx, address: undefined }, started, realtimeRest(token))
    return c.json(run, 202)
  })
}
