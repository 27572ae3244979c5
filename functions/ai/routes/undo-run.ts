import { RunUndoBodySchema, RunUndoResultSchema } from '../../../shared/ai/schemas.ts'
import { undoRun } from '../../../shared/ai/trace.ts'
import { runIdempotent } from '../../../shared/db/idempotency.ts'
import type { App } from '../../../shared/http/app.ts'
import {
  expectedVersions,
  IdempotencyHeaderSchema,
  IfMatchHeaderSchema,
  idempotencyOf,
  replayHeaders,
} from '../../../shared/http/concurrency.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { errorResponse } from '../../../shared/http/openapi.ts'
import { IdParamsSchema } from '../../../shared/http/params.ts'
import { jsonResponse, userRoute } from '../../../shared/http/routes.ts'

export const route = userRoute({
  method: 'post',
  path: '/runs/{id}/undo',
  summary: 'Take back every change the run made, newest first, in one transaction',
  description:
    'Rows the run created are deleted, rows it updated get their columns back, rows it deleted come back ' +
    'with their ids (a note with its checklist tasks). A row changed after the run changed it (by you or ' +
    'another run) blocks the undo: 409 with the rows in `details`, nothing changed; with `{"force": true}` ' +
    'those rows are left as they are and listed in `skipped`. Undoing a run again is a 200 with nothing ' +
    'to undo (`already_undone`). `If-Match` takes the run’s ETag (GET ai/runs/{id}); an `Idempotency-Key` ' +
    'replays the first answer.',
  request: {
    params: IdParamsSchema,
    headers: IfMatchHeaderSchema.extend(IdempotencyHeaderSchema.shape),
    body: { required: false, content: { 'application/json': { schema: RunUndoBodySchema } } },
  },
  responses: {
    200: jsonResponse('What was taken back, and what was left (with force)', RunUndoResultSchema),
    409: errorResponse(
      409,
      'Rows changed after the run changed them (listed in details), or the run is still working (conflict)',
    ),
    412: errorResponse(412),
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const headers = c.req.valid('header')
    const input = {
      id: c.req.valid('param').id,
      force: c.req.valid('json').force ?? false,
      expected: expectedVersions(headers['if-match']),
    }
    const { result, replayed } = await runIdempotent(
      serviceContext(c),
      idempotencyOf(headers['idempotency-key'], undoRun.verbName, input),
      (ctx) => undoRun.trusted({ ctx, input }),
    )
    return c.json(result, 200, replayHeaders(replayed))
  })
}
