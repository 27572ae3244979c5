import { getRun } from '../../../shared/ai/runs.ts'
import { RunWithStepsSchema } from '../../../shared/ai/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { IdParamsSchema } from '../../../shared/http/params.ts'
import { etagHeader, rowResponse } from '../../../shared/http/concurrency.ts'
import { jsonResponse, userRoute } from '../../../shared/http/routes.ts'

export const route = userRoute({
  method: 'get',
  path: '/runs/{id}',
  summary:
    'A run with its steps (the context, model calls, tool calls with arguments and results) and its actions ' +
    '(every change its agents made to notes, tasks, goals and reflections, with the row before and after)',
  request: { params: IdParamsSchema },
  responses: {
    200: { ...jsonResponse('The run, its steps and its actions', RunWithStepsSchema), headers: etagHeader },
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) =>
    rowResponse(c, await getRun.trusted({ ctx: serviceContext(c), input: c.req.valid('param') }), 200),
  )
}
