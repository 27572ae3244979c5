import { cancelRun } from '../../../shared/ai/runs.ts'
import { RunSchema } from '../../../shared/ai/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { errorResponse } from '../../../shared/http/openapi.ts'
import { IdParamsSchema } from '../../../shared/http/params.ts'
import { jsonResponse, userRoute } from '../../../shared/http/routes.ts'

export const route = userRoute({
  method: 'post',
  path: '/runs/{id}/cancel',
  summary: 'Cancel a queued or running run (its partial answer is kept, marked)',
  request: { params: IdParamsSchema },
  responses: {
    200: jsonResponse('The run, cancelled', RunSchema),
    409: errorResponse(409, 'The run has already finished (conflict)'),
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    c.json(await cancelRun.trusted({ ctx: serviceContext(c), input: c.req.valid('param') }), 200),
  )
}
