import {
  argumentPieces,
  type FakeAnswer,
  type FakeError,
  type FakeProvider,
  fakeId,
  pieces,
  type Protocol,
  startFakeProvider,
  wordCount,
} from './fake-provider.ts'

// A fake of Anthropic's Messages API (POST /v1/messages), as `@anthropic-ai/sdk` parses it: a JSON
// message, or the event stream message_start → content_block_start/delta/stop (text_delta, and
// input_json_delta for tool_use blocks) → message_delta (stop_reason, output tokens) → message_stop,
// with pings; errors as `{"type": "error", "error": {type, message}}`, in a response or as an
// `error` event in the middle of a stream.

type AnthropicContent =
  | string
  | Array<
      | { type: 'text'; text: string }
      | { type: 'tool_use'; id: string; name: string; input: unknown }
      | { type: 'tool_result'; tool_use_id: string; content: unknown; is_error?: boolean }
    >

export interface AnthropicMessagesBody {
  model: string
  max_tokens: number
  system?: string | Array<{ type: 'text'; text: string }>
  messages: Array<{ role: 'user' | 'assistant'; content: AnthropicContent }>
  tools?: Array<{ name: string; description?: string; input_schema: unknown }>
  tool_choice?: unknown
  stream?: boolean
  temperature?: number
}

export type FakeAnthropic = FakeProvider<AnthropicMessagesBody>

const errorTypes: Record<number, [type: string, message: string]> = {
  400: ['invalid_request_error', 'Invalid request'],
  401: ['authentication_error', 'invalid x-api-key'],
  403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
  404: ['not_found_error', 'model: not found'],
  413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
  429: ['rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit'],
  500: ['api_error', 'Internal server error'],
  529: ['overloaded_error', 'Overloaded'],
}

const errorType = (status: number) => errorTypes[status] ?? errorTypes[status >= 500 ? 500 : 400]

function usageOf(reply: FakeAnswer, body: AnthropicMessagesBody) {
  const input = reply.usage?.input ?? wordCount([body.system, body.messages])
  const output =
    reply.usage?.output ??
    pieces(reply.text).length +
      (reply.toolCalls ?? []).reduce((n, call) => n + argumentPieces(call.args).length, 0)
  return { input, output }
}

const stopReason = (reply: FakeAnswer) =>
  reply.stopReason ?? (reply.toolCalls?.length ? 'tool_use' : 'end_turn')

function blocks(reply: FakeAnswer) {
  const text = pieces(reply.text).join('')
  return [
    ...(text ? [{ type: 'text' as const, text }] : []),
    ...(reply.toolCalls ?? []).map((call) => ({
      type: 'tool_use' as const,
      id: call.id ?? fakeId('toolu_'),
      name: call.name,
      input: call.args,
    })),
  ]
}

export const anthropicProtocol: Protocol<AnthropicMessagesBody> = {
  name: 'fake-anthropic',
  basePath: '',
  path: '/v1/messages',
  key: (headers) => (typeof headers['x-api-key'] === 'string' ? headers['x-api-key'] : undefined),
  streams: (body) => body?.stream === true,

  error({ error }: FakeError) {
    const [type, message] = errorType(error.status)
    const requestId = fakeId('req_')
    return {
      body: {
        type: 'error',
        error: { type: error.type ?? type, message: error.message ?? message },
        request_id: requestId,
      },
      headers: { 'request-id': requestId },
    }
  },

  answer(reply, body) {
    const usage = usageOf(reply, body)
    return {
      id: fakeId('msg_'),
      type: 'message',
      role: 'assistant',
      model: body.model,
      content: blocks(reply),
      stop_reason: stopReason(reply),
      stop_sequence: null,
      usage: {
        input_tokens: usage.input,
        output_tokens: usage.output,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    }
  },

  events(reply, body) {
    const usage = usageOf(reply, body)
    const events: Array<{ event: string; data: unknown }> = [
      {
        event: 'message_start',
        data: {
          type: 'message_start',
          message: {
            id: fakeId('msg_'),
            type: 'message',
            role: 'assistant',
            model: body.model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: {
              input_tokens: usage.input,
              output_tokens: 1,
              cache_creation_input_tokens: 0,
              cache_read_input_tokens: 0,
            },
          },
        },
      },
      { event: 'ping', data: { type: 'ping' } },
    ]
    let index = 0
    const texts = pieces(reply.text)
    if (texts.length) {
      events.push({
        event: 'content_block_start',
        data: { type: 'content_block_start', index, content_block: { type: 'text', text: '' } },
      })
      for (const text of texts) {
        events.push({
          event: 'content_block_delta',
          data: { type: 'content_block_delta', index, delta: { type: 'text_delta', text } },
        })
      }
      events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } })
      index++
    }
    for (const call of reply.toolCalls ?? []) {
      events.push({
        event: 'content_block_start',
        data: {
          type: 'content_block_start',
          index,
          content_block: { type: 'tool_use', id: call.id ?? fakeId('toolu_'), name: call.name, input: {} },
        },
      })
      for (const partial_json of argumentPieces(call.args)) {
        events.push({
          event: 'content_block_delta',
          data: { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } },
        })
      }
      events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } })
      index++
    }
    events.push(
      {
        event: 'message_delta',
        data: {
          type: 'message_delta',
          delta: { stop_reason: stopReason(reply), stop_sequence: null },
          usage: { output_tokens: usage.output },
        },
      },
      { event: 'message_stop', data: { type: 'message_stop' } },
    )
    return events
  },

  streamError: (status, message) => ({
    event: 'error',
    data: { type: 'error', error: { type: errorType(status)[0], message } },
  }),
}

/** A fake Anthropic on 127.0.0.1; point `ANTHROPIC_BASE_URL` at `url` and `ANTHROPIC_API_KEY` at `apiKey`. */
export const startFakeAnthropic = (options?: { apiKey?: string | null }): Promise<FakeAnthropic> =>
  startFakeProvider(anthropicProtocol, options)
