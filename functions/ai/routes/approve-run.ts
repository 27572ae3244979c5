import { decideApproval } from '../../../shared/ai/approval.ts'
import { RunBroadcaster, realtimeRest } from '../../../shared/ai/broadcast.ts'
import { inBackground, resumeRun } from '../../../shared/ai/engine.ts'
import { loadRunLimits } from '../../../shared/ai/limits.ts'
import { ApprovalDecisionsSchema, RunSchema } from '../../../shared/ai/schemas.ts'
import { realtimeSink } from '../../../shared/ai/sinks.ts'
import { userContext } from '../../../shared/core/context.ts'
import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { errorResponse } from '../../../shared/http/openapi.ts'
import { IdParamsSchema } from '../../../shared/http/params.ts'
import { jsonBody, jsonResponse, userRoute } from '../../../shared/http/routes.ts'

export const route = userRoute({
  method: 'post',
  path: '/runs/{id}/approval',
  summary: 'Approve or refuse the changes a run awaits, and resume it',
  description:
    'A run whose agent proposed a change that needs approval (the preference `ai.approval`: never, ' +
    'destructive (default) or always) waits in status `awaiting_approval`; the conversation’s channel got ' +
    '`approval_required` with each action. Decide every pending action once (`action_id` from that event or ' +
    'from `GET ai/runs/{id}` → approvals). The run resumes in the background of this request: approved ' +
    'changes are made, refused ones go back to the agent as refused (with the note), and the rest streams ' +
    'over Realtime as usual (run_resumed, …, run_finished).',
  request: { params: IdParamsSchema, body: jsonBody(ApprovalDecisionsSchema) },
  responses: {
    202: jsonResponse('The run, running again', RunSchema),
    409: errorResponse(
      409,
      'The run is not awaiting approval: decided already, finished, or expired (approval_expired) (conflict)',
    ),
    429: errorResponse(
      429,
      'The user’s runs at once are all working (AI_MAX_CONCURRENT_RUNS); see Retry-After',
    ),
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param')
    const { decisions } = c.req.valid('json')
    const ctx = serviceContext(c)
    const token = (c.req.header('authorization') ?? '').replace(/^Bearer\s+/i, '').trim()
    const { run, resumption } = await decideApproval.trusted({ ctx, input: { id, decisions } })
    const broadcaster = new RunBroadcaster(
      run.conversation_id,
      run.id,
      realtimeRest(token),
      loadRunLimits().tokenIntervalMs,
      resumption.state.seq,
    )
    // Nothing of the paused run is in this process: its state comes from Postgres.
    inBackground(
      resumeRun({
        ctx: userContext(ctx.claims),
        run,
        resumption,
        sink: realtimeSink(broadcaster),
        seq: () => broadcaster.nextSeq(),
      }).then(() => broadcaster.settled()),
    )
    return c.json(run, 202)
  })
}
