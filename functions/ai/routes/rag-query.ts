import { HumanMessage, SystemMessage } from '@langchain/core/messages'
import { createUIMessageStream, createUIMessageStreamResponse } from 'ai'
import { invokeChat, streamChat } from '../../../shared/ai/chat.ts'
import { loadRunLimits } from '../../../shared/ai/limits.ts'
import { resolveModels } from '../../../shared/ai/models.ts'
import { toDomainError } from '../../../shared/core/errors.ts'
import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { errorResponse } from '../../../shared/http/openapi.ts'
import { jsonBody, userRoute } from '../../../shared/http/routes.ts'
import {
  citationLabel,
  citedPassages,
  groundedMessages,
  queryKnowledge,
} from '../../../shared/knowledge/retrieval.ts'
import { RagAnswerSchema, RagQuerySchema, RagResultSchema } from '../../../shared/knowledge/schemas.ts'

export const route = userRoute({
  method: 'post',
  path: '/rag/query',
  summary: 'Search your notes and documents; with generate, an answer from them with numbered citations',
  description:
    'Hybrid retrieval (full text and vectors, fused by rank) over your own notes and documents only, with ' +
    'filters (sources, document_ids, note_ids, created_after, created_before). Without `generate` the passages, ' +
    'each with its citation (this needs no AI provider). With `generate` an answer grounded in them, citing ' +
    'passages as [n] (`cited` lists them); with `Accept: text/event-stream` the answer streams as the AI SDK’s ' +
    'UI message stream, as POST ai/runs does: a source-document part per passage, a `data-passages` part with ' +
    'the passages, the text, and `cited` in the finish part’s metadata.',
  request: { body: jsonBody(RagQuerySchema) },
  responses: {
    200: {
      description:
        'The passages (without generate), the passages and the answer (generate), or the answer as the AI SDK ' +
        'UI message stream (generate, Accept: text/event-stream)',
      content: {
        'application/json': { schema: RagResultSchema.or(RagAnswerSchema) },
        'text/event-stream': { schema: { type: 'string' } },
      },
    },
    503: errorResponse(503, 'generate, and no AI provider is configured (provider_unavailable)'),
  },
})

/** What a stream's error part says: a domain error's code and message; anything else stays ours. */
const streamError = (error: unknown) => {
  const known = toDomainError(error)
  if (known && known.code !== 'internal') return `${known.code}: ${known.message}`
  console.error(JSON.stringify({ level: 'error', route: 'rag.query', error: String(error) }))
  return 'internal: Something went wrong on our side'
}

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c)
    const input = c.req.valid('json')
    if (!input.generate) return c.json(await queryKnowledge.trusted({ ctx, input }), 200)

    // Before searching: without a model there is no answer to give (503, naming what to set).
    resolveModels()
    const result = await queryKnowledge.trusted({ ctx, input })
    const [system, question] = groundedMessages(input.query, result.passages)
    const limits = loadRunLimits()
    const request = {
      messages: [new SystemMessage(system.content), new HumanMessage(question.content)],
      temperature: 0.1,
      timeoutMs: limits.modelTimeoutMs,
      maxRetries: limits.maxRetries,
      signal: c.req.raw.signal,
    }

    if (!/\btext\/event-stream\b/i.test(c.req.header('accept') ?? '')) {
      const answered = await invokeChat(request)
      const answer = answered.message.text
      return c.json(
        { ...result, answer, model: answered.model, cited: citedPassages(answer, result.passages) },
        200,
      )
    }

    const stream = createUIMessageStream({
      execute: async ({ writer }) => {
        writer.write({
          type: 'start',
          messageMetadata: { query: result.query, embedding_model: result.embedding_model },
        })
        writer.write({ type: 'start-step' })
        for (const passage of result.passages) {
          writer.write({
            type: 'source-document',
            sourceId: passage.chunk_id,
            mediaType: 'text/plain',
            title: `[${passage.n}] ${citationLabel(passage)}`,
          })
        }
        writer.write({ type: 'data-passages', data: result.passages })
        const chat = streamChat(request)
        const id = crypto.randomUUID()
        let answer = ''
        let model = ''
        writer.write({ type: 'text-start', id })
        for (;;) {
          const step = await chat.next()
          if (step.done) {
            model = step.value.model
            break
          }
          const delta = step.value.text
          if (delta) {
            answer += delta
            writer.write({ type: 'text-delta', id, delta })
          }
        }
        writer.write({ type: 'text-end', id })
        writer.write({ type: 'finish-step' })
        writer.write({
          type: 'finish',
          finishReason: 'stop',
          messageMetadata: { model, cited: citedPassages(answer, result.passages) },
        })
      },
      onError: streamError,
    })
    return createUIMessageStreamResponse({ stream, headers: { 'x-request-id': c.get('requestId') } })
  })
}
