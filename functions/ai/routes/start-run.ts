import { createUIMessageStream, createUIMessageStreamResponse } from 'ai'
import { RunBroadcaster, realtimeRest } from '../../../shared/ai/broadcast.ts'
import { executeRun, inBackground } from '../../../shared/ai/engine.ts'
import { loadRunLimits } from '../../../shared/ai/limits.ts'
import { resolveModels } from '../../../shared/ai/models.ts'
import { failRun, startRun } from '../../../shared/ai/runs.ts'
import { RunCreateSchema, RunSchema } from '../../../shared/ai/schemas.ts'
import { allSinks, realtimeSink, uiMessageSink } from '../../../shared/ai/sinks.ts'
import { userContext } from '../../../shared/core/context.ts'
import { DomainError } from '../../../shared/core/errors.ts'
import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { errorResponse } from '../../../shared/http/openapi.ts'
import { jsonBody, jsonResponse, userRoute } from '../../../shared/http/routes.ts'

export const route = userRoute({
  method: 'post',
  path: '/runs',
  summary: 'Ask an agent: store the user’s message and start a run that answers it',
  description:
    'Stores the message in the conversation and a queued run. Without `Accept: text/event-stream` the answer ' +
    'is worked on in the background and the response is 202 with the run; its output streams to the ' +
    'private Realtime channel `conversation:{id}` (run_started, token, tool_call, tool_result, run_finished, ' +
    'run_failed; approval_required when a change waits for the user’s approval: POST ai/runs/{id}/approval) ' +
    'and the answer is stored as a message. With `Accept: text/event-stream` the response is ' +
    'the AI SDK’s UI message stream (what `useChat` reads), and the channel gets the same events. The body ' +
    '`useChat` sends (`{id, messages}`) is taken as well, and answered with the stream. With no AI provider configured the message is ' +
    'stored, the run is failed (provider_unavailable) and a stream request is answered 503.',
  request: { body: jsonBody(RunCreateSchema) },
  responses: {
    200: {
      description: 'The run as the AI SDK UI message stream (Accept: text/event-stream)',
      content: { 'text/event-stream': { schema: { type: 'string' } } },
    },
    202: jsonResponse('The run, queued (or failed, when no provider is configured)', RunSchema),
    409: errorResponse(409, 'The agent is turned off (conflict)'),
    429: errorResponse(
      429,
      'Over the user’s runs at once (AI_MAX_CONCURRENT_RUNS, default 2) or a minute (AI_RUNS_PER_MINUTE, ' +
        'default 10), or the request limits; see Retry-After (rate_limited)',
    ),
    503: errorResponse(503, 'No AI provider is configured, for a stream request (provider_unavailable)'),
  },
})

/** Why no model can answer for this agent now (nothing configured), or undefined. */
function providerProblem(model: string | null): DomainError | undefined {
  try {
    resolveModels(model ?? undefined)
    return undefined
  } catch (error) {
    if (error instanceof DomainError) return error
    throw error
  }
}

/** `useChat`'s transport sends `{id, messages}` (and no Accept header): it reads the stream. */
async function fromUseChat(request: { json(): Promise<unknown> }): Promise<boolean> {
  const body = (await request.json().catch(() => undefined)) as { messages?: unknown } | undefined
  return Array.isArray(body?.messages)
}

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const input = c.req.valid('json')
    const ctx = serviceContext(c)
    const token = (c.req.header('authorization') ?? '').replace(/^Bearer\s+/i, '').trim()
    const { run, agent, message } = await startRun.trusted({ ctx, input })
    // The work's own transactions count against the user's limits, not the client address's.
    const workCtx = userContext(ctx.claims)
    const broadcaster = new RunBroadcaster(
      run.conversation_id,
      run.id,
      realtimeRest(token),
      loadRunLimits().tokenIntervalMs,
    )
    const realtime = realtimeSink(broadcaster)
    const streams = /\btext\/event-stream\b/i.test(c.req.header('accept') ?? '') || (await fromUseChat(c.req))

    const unavailable = providerProblem(agent.model)
    if (unavailable) {
      const error = { code: unavailable.code, message: unavailable.message }
      const failed = await failRun(workCtx, run.id, error)
      realtime.failed(error)
      await broadcaster.settled()
      if (streams) throw unavailable
      return c.json(failed ?? run, 202)
    }

    if (streams) {
      const stream = createUIMessageStream({
        execute: async ({ writer }) => {
          await executeRun({
            ctx: workCtx,
            run,
            agent,
            sink: allSinks([realtime, uiMessageSink(writer, run)]),
            seq: () => broadcaster.nextSeq(),
            question: message.content,
            // The client going away (useChat's stop()) cancels the run.
            signal: c.req.raw.signal,
          })
          await broadcaster.settled()
        },
      })
      return createUIMessageStreamResponse({
        stream,
        headers: { 'x-run-id': run.id, 'x-request-id': c.get('requestId') },
      })
    }

    inBackground(
      executeRun({
        ctx: workCtx,
        run,
        agent,
        sink: realtime,
        seq: () => broadcaster.nextSeq(),
        question: message.content,
      }).then(() => broadcaster.settled()),
    )
    return c.json(run, 202)
  })
}
