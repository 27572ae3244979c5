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

// A fake of OpenAI's Chat Completions API (POST /v1/chat/completions), as the `openai` SDK parses it:
// JSON answers, server-sent `chat.completion.chunk` events ending in `data: [DONE]` (with a usage chunk
// of empty `choices` when `stream_options.include_usage` asks for one), and errors as
// `{"error": {message, type, param, code}}` with the status and headers OpenAI uses.

export interface OpenAIChatBody {
  model: string
  messages: Array<{
    role: 'system' | 'developer' | 'user' | 'assistant' | 'tool'
    content: string | null | Array<{ type: string; text?: string }>
    tool_calls?: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }>
    tool_call_id?: string
  }>
  tools?: Array<{ type: 'function'; function: { name: string; description?: string; parameters?: unknown } }>
  tool_choice?: unknown
  stream?: boolean
  stream_options?: { include_usage?: boolean }
  temperature?: number
  max_tokens?: number
  max_completion_tokens?: number
}

export type FakeOpenAI = FakeProvider<OpenAIChatBody>

const errorTypes: Record<number, [type: string, code: string | null, message: string]> = {
  400: ['invalid_request_error', null, 'Invalid request'],
  401: [
    'invalid_request_error',
    'invalid_api_key',
    'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
  ],
  403: [
    'invalid_request_error',
    'unsupported_country_region_territory',
    'Country, region, or territory not supported',
  ],
  404: [
    'invalid_request_error',
    'model_not_found',
    'The model does not exist or you do not have access to it.',
  ],
  429: ['requests', 'rate_limit_exceeded', 'Rate limit reached for requests'],
  500: ['server_error', null, 'The server had an error while processing your request. Sorry about that!'],
  503: ['server_error', null, 'The engine is currently overloaded, please try again later'],
}

function usageOf(reply: FakeAnswer, body: OpenAIChatBody) {
  const input = reply.usage?.input ?? wordCount(body.messages)
  const output =
    reply.usage?.output ??
    pieces(reply.text).length +
      (reply.toolCalls ?? []).reduce((n, call) => n + argumentPieces(call.args).length, 0)
  return {
    prompt_tokens: input,
    completion_tokens: output,
    total_tokens: input + output,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  }
}

const finishReason = (reply: FakeAnswer) =>
  reply.stopReason ?? (reply.toolCalls?.length ? 'tool_calls' : 'stop')

const toolCallIds = (reply: FakeAnswer) => (reply.toolCalls ?? []).map((call) => call.id ?? fakeId('call_'))

export const openAIProtocol: Protocol<OpenAIChatBody> = {
  name: 'fake-openai',
  basePath: '/v1',
  path: '/chat/completions',
  key: (headers) => headers.authorization?.replace(/^Bearer /, ''),
  streams: (body) => body?.stream === true,

  error({ error }: FakeError) {
    const [type, code, message] = errorTypes[error.status] ?? errorTypes[error.status >= 500 ? 500 : 400]
    return {
      body: {
        error: {
          message: error.message ?? message,
          type: error.type ?? type,
          param: null,
          code: error.code === undefined ? code : error.code,
        },
      },
      headers: { 'x-request-id': fakeId('req_') },
    }
  },

  answer(reply, body) {
    const ids = toolCallIds(reply)
    const text = pieces(reply.text).join('')
    return {
      id: fakeId('chatcmpl-'),
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      system_fingerprint: 'fp_fake',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: text || (reply.toolCalls?.length ? null : ''),
            refusal: null,
            annotations: [],
            ...(reply.toolCalls?.length
              ? {
                  tool_calls: reply.toolCalls.map((call, i) => ({
                    id: ids[i],
                    type: 'function',
                    function: { name: call.name, arguments: JSON.stringify(call.args) },
                  })),
                }
              : {}),
          },
          logprobs: null,
          finish_reason: finishReason(reply),
        },
      ],
      usage: usageOf(reply, body),
      service_tier: 'default',
    }
  },

  events(reply, body) {
    const id = fakeId('chatcmpl-')
    const created = Math.floor(Date.now() / 1000)
    const includeUsage = body.stream_options?.include_usage === true
    // With include_usage every chunk carries `usage: null` and one last chunk carries the usage alone.
    const chunk = (delta: object, finish: string | null = null) => ({
      data: {
        id,
        object: 'chat.completion.chunk',
        created,
        model: body.model,
        service_tier: 'default',
        system_fingerprint: 'fp_fake',
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        ...(includeUsage ? { usage: null } : {}),
      },
    })
    const ids = toolCallIds(reply)
    const events: Array<{ data: unknown }> = [
      chunk({
        role: 'assistant',
        content: reply.toolCalls?.length && !reply.text ? null : '',
        refusal: null,
      }),
    ]
    for (const text of pieces(reply.text)) events.push(chunk({ content: text }))
    for (const [index, call] of (reply.toolCalls ?? []).entries()) {
      events.push(
        chunk({
          tool_calls: [
            { index, id: ids[index], type: 'function', function: { name: call.name, arguments: '' } },
          ],
        }),
      )
      for (const args of argumentPieces(call.args))
        events.push(chunk({ tool_calls: [{ index, function: { arguments: args } }] }))
    }
    events.push(chunk({}, finishReason(reply)))
    if (includeUsage) {
      events.push({
        data: {
          id,
          object: 'chat.completion.chunk',
          created,
          model: body.model,
          service_tier: 'default',
          system_fingerprint: 'fp_fake',
          choices: [],
          usage: usageOf(reply, body),
        },
      })
    }
    return events
  },

  // OpenAI reports a failure in the middle of a stream as a data event holding `error`.
  streamError: (status, message) => ({
    data: {
      error: {
        message,
        type: status >= 500 ? 'server_error' : 'invalid_request_error',
        param: null,
        code: null,
      },
    },
  }),
  trailer: 'data: [DONE]\n\n',
}

/** A fake OpenAI on 127.0.0.1; point `OPENAI_BASE_URL` at `url` and `OPENAI_API_KEY` at `apiKey`. */
export const startFakeOpenAI = (options?: { apiKey?: string | null }): Promise<FakeOpenAI> =>
  startFakeProvider(openAIProtocol, options)
