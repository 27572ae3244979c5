import { type AIMessageChunk, HumanMessage, SystemMessage, ToolMessage } from '@langchain/core/messages'
import { tool } from '@langchain/core/tools'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { type ChatResult, invokeChat, streamChat } from '../../shared/ai/chat.ts'
import { ProviderUnavailableError, RateLimitedError } from '../../shared/ai/errors.ts'
import { setAiConfigForTests } from '../../shared/config.ts'
import { noProviders, useProviders } from '../helpers/ai.ts'
import { type FakeAnthropic, startFakeAnthropic } from '../helpers/fake-anthropic.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import type { FakeProvider } from '../helpers/fake-provider.ts'

// The real LangChain models (ChatOpenAI, ChatAnthropic) over the real SDKs, talking to the fake
// providers on 127.0.0.1 through the base-URL variables.

let openai: FakeOpenAI
let anthropic: FakeAnthropic

beforeAll(async () => {
  openai = await startFakeOpenAI()
  anthropic = await startFakeAnthropic()
})
afterAll(async () => {
  await openai.close()
  await anthropic.close()
})
afterEach(() => {
  setAiConfigForTests(undefined)
})

/** Everything a stream yields, and what it returns. */
async function drain(stream: AsyncGenerator<AIMessageChunk, ChatResult>) {
  const chunks: AIMessageChunk[] = []
  for (;;) {
    const step = await stream.next()
    if (step.done) return { chunks, result: step.value }
    chunks.push(step.value)
  }
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected the call to fail')
}

const until = async (condition: () => boolean, ms = 2000) => {
  const end = Date.now() + ms
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const addTask = tool(async ({ title }: { title: string }) => `created task "${title}"`, {
  name: 'create_task',
  description: 'Create a task for the user',
  schema: z.object({ title: z.string().describe('What to do'), due: z.string().optional() }),
})

interface Case {
  provider: 'openai' | 'anthropic'
  keyVariable: string
  fake: () => FakeProvider<unknown>
  configure: (overrides?: Parameters<typeof useProviders>[1]) => void
  /** The system prompt, the conversation and the tools as the provider received them. */
  received: (index: number) => {
    system: string | undefined
    roles: string[]
    tools: string[]
    body: Record<string, unknown>
  }
}

const cases: Case[] = [
  {
    provider: 'openai',
    keyVariable: 'OPENAI_API_KEY',
    fake: () => openai as FakeProvider<unknown>,
    configure: (overrides) => useProviders({ openai }, overrides),
    received: (index) => {
      const { body } = openai.requests[index]
      const system = body.messages.find(
        (message) => message.role === 'system' || message.role === 'developer',
      )
      return {
        system: typeof system?.content === 'string' ? system.content : undefined,
        roles: body.messages.map((message) => message.role),
        tools: (body.tools ?? []).map((t) => t.function.name),
        body: body as unknown as Record<string, unknown>,
      }
    },
  },
  {
    provider: 'anthropic',
    keyVariable: 'ANTHROPIC_API_KEY',
    fake: () => anthropic as FakeProvider<unknown>,
    configure: (overrides) => useProviders({ anthropic }, overrides),
    received: (index) => {
      const { body } = anthropic.requests[index]
      const system = typeof body.system === 'string' ? body.system : body.system?.map((b) => b.text).join('')
      return {
        system,
        roles: body.messages.map((message) => message.role),
        tools: (body.tools ?? []).map((t) => t.name),
        body: body as unknown as Record<string, unknown>,
      }
    },
  },
]

describe.each(cases)('$provider', ({ provider, keyVariable, fake, configure, received }) => {
  const model = (name: string) => `${provider}:${name}`
  let seen: number
  const fresh = () => fake().requests.slice(seen)
  const startCounting = () => {
    seen = fake().requests.length
  }

  it('streams an answer delta by delta, with its usage, from the system prompt and history it was given', async () => {
    configure({ defaultModel: model('main') })
    startCounting()
    fake().reply({ text: ['Plan ', 'your ', 'week ', 'on ', 'Sunday.'], usage: { input: 42, output: 5 } })
    const { chunks, result } = await drain(
      streamChat({
        messages: [new SystemMessage('You are the planner.'), new HumanMessage('When should I plan?')],
      }),
    )
    expect(chunks.map((chunk) => chunk.text).filter(Boolean)).toEqual([
      'Plan ',
      'your ',
      'week ',
      'on ',
      'Sunday.',
    ])
    expect(result.message.text).toBe('Plan your week on Sunday.')
    expect(result.model).toBe(model('main'))
    // Anthropic's message_start carries `output_tokens: 1` and LangChain adds it to message_delta's total.
    const output = provider === 'anthropic' ? 6 : 5
    expect(result.usage).toMatchObject({ input_tokens: 42, output_tokens: output, total_tokens: 42 + output })
    expect(result.failed).toEqual([])

    expect(fresh()).toHaveLength(1)
    const sent = received(seen)
    expect(sent.system).toBe('You are the planner.')
    expect(sent.roles.at(-1)).toBe('user')
    expect(sent.body).toMatchObject({ model: 'main', stream: true })
    if (provider === 'openai') expect(sent.body.stream_options).toEqual({ include_usage: true })
  })

  it('answers in one response when not streamed', async () => {
    configure({ defaultModel: model('main') })
    startCounting()
    fake().reply({ text: 'Tuesday is free.', usage: { input: 7, output: 3 } })
    const result = await invokeChat({ messages: [new HumanMessage('Which day is free?')] })
    expect(result.message.text).toBe('Tuesday is free.')
    expect(result.usage).toMatchObject({ input_tokens: 7, output_tokens: 3 })
    expect(received(seen).body.stream).toBeFalsy()

    fake().reply({ toolCalls: [{ id: 'call_2', name: 'create_task', args: { title: 'Call mum' } }] })
    const call = await invokeChat({ messages: [new HumanMessage('Remind me to call mum')], tools: [addTask] })
    expect(call.message.tool_calls).toEqual([
      expect.objectContaining({ id: 'call_2', name: 'create_task', args: { title: 'Call mum' } }),
    ])
    expect(received(seen + 1).tools).toEqual(['create_task'])
  })

  it('round-trips a tool call: the call streams in, its result goes back in the history', async () => {
    configure({ defaultModel: model('main') })
    startCounting()
    fake().reply(
      {
        text: 'Adding it.',
        toolCalls: [{ id: 'call_1', name: 'create_task', args: { title: 'Buy milk', due: 'today' } }],
      },
      { text: 'Done: "Buy milk" is on your list.' },
    )
    const history = [new SystemMessage('You manage tasks.'), new HumanMessage('Remind me to buy milk today')]
    const first = await drain(streamChat({ messages: history, tools: [addTask] }))
    const [call] = first.result.message.tool_calls ?? []
    expect(call).toMatchObject({
      id: 'call_1',
      name: 'create_task',
      args: { title: 'Buy milk', due: 'today' },
    })
    // The arguments arrived in pieces, as providers send them.
    expect(first.chunks.filter((chunk) => chunk.tool_call_chunks?.length).length).toBeGreaterThan(1)

    const output = await addTask.invoke(call.args as { title: string })
    const second = await drain(
      streamChat({
        messages: [
          ...history,
          first.result.message,
          new ToolMessage({ content: output, tool_call_id: call.id as string }),
        ],
        tools: [addTask],
      }),
    )
    expect(second.result.message.text).toBe('Done: "Buy milk" is on your list.')

    expect(fresh()).toHaveLength(2)
    expect(received(seen).tools).toEqual(['create_task'])
    const back = received(seen + 1)
    expect(back.tools).toEqual(['create_task'])
    if (provider === 'openai') {
      expect(back.roles).toEqual(['system', 'user', 'assistant', 'tool'])
      const messages = openai.requests[seen + 1].body.messages
      expect(messages[2].tool_calls?.[0]).toMatchObject({ id: 'call_1', function: { name: 'create_task' } })
      expect(JSON.parse(messages[2].tool_calls?.[0].function.arguments ?? '')).toEqual({
        title: 'Buy milk',
        due: 'today',
      })
      expect(messages[3]).toMatchObject({
        role: 'tool',
        tool_call_id: 'call_1',
        content: 'created task "Buy milk"',
      })
    } else {
      expect(back.roles).toEqual(['user', 'assistant', 'user'])
      const messages = anthropic.requests[seen + 1].body.messages
      expect(messages[1].content).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            type: 'tool_use',
            id: 'call_1',
            name: 'create_task',
            input: { title: 'Buy milk', due: 'today' },
          }),
        ]),
      )
      expect(messages[2].content).toEqual([
        expect.objectContaining({
          type: 'tool_result',
          tool_use_id: 'call_1',
          content: 'created task "Buy milk"',
        }),
      ])
    }
  })

  it('turns a 429 into rate_limited with the provider’s Retry-After, without retrying', async () => {
    configure({ defaultModel: model('main'), fallbackModels: [model('backup')] })
    startCounting()
    fake().reply({ error: { status: 429 }, headers: { 'retry-after': '17' } })
    const error = await failure(drain(streamChat({ messages: [new HumanMessage('hi')], maxRetries: 2 })))
    expect(error).toBeInstanceOf(RateLimitedError)
    expect(error).toMatchObject({ code: 'rate_limited', status: 429, headers: { 'Retry-After': '17' } })
    expect(fresh()).toHaveLength(1)
  })

  it('retries a 500, then falls back to the next model in AI_FALLBACK_MODELS', async () => {
    configure({ defaultModel: model('main'), fallbackModels: [model('backup')] })
    startCounting()
    fake().reply({ error: { status: 500 } }, { error: { status: 500 } }, { text: 'From the backup.' })
    const { result } = await drain(streamChat({ messages: [new HumanMessage('hi')], maxRetries: 1 }))
    expect(result.message.text).toBe('From the backup.')
    expect(result.model).toBe(model('backup'))
    expect(result.failed).toEqual([{ model: model('main'), kind: 'down', status: 500 }])
    expect(fresh().map((request) => (request.body as { model: string }).model)).toEqual([
      'main',
      'main',
      'backup',
    ])
  })

  it('answers provider_unavailable, naming every model tried, when all are down', async () => {
    configure({ defaultModel: model('main'), fallbackModels: [model('backup')] })
    startCounting()
    fake().reply({ error: { status: 503 } }, { error: { status: 500 } })
    const error = await failure(invokeChat({ messages: [new HumanMessage('hi')], maxRetries: 0 }))
    expect(error).toBeInstanceOf(ProviderUnavailableError)
    expect((error as Error).message).toBe(
      `No model answered: ${model('main')} is unavailable (status 503); ${model('backup')} is unavailable (status 500)`,
    )
  })

  it('times out a provider that does not answer, and tries the next model', async () => {
    configure({ defaultModel: model('main'), fallbackModels: [model('backup')] })
    startCounting()
    fake().reply({ hang: true }, { text: 'Backup here.' })
    const { result } = await drain(
      streamChat({ messages: [new HumanMessage('hi')], timeoutMs: 300, maxRetries: 0 }),
    )
    expect(result.model).toBe(model('backup'))
    expect(result.failed).toEqual([{ model: model('main'), kind: 'timeout' }])
    await until(() => fake().requests[seen].abandoned)
  })

  it('times out a stream that stalls mid-answer, without another model taking over', async () => {
    configure({ defaultModel: model('main'), fallbackModels: [model('backup')] })
    startCounting()
    fake().reply({ text: 'One two three four five six', stallAfter: 5 })
    const chunks: string[] = []
    const error = await failure(
      (async () => {
        for await (const chunk of streamChat({ messages: [new HumanMessage('hi')], timeoutMs: 300 }))
          chunks.push(chunk.text)
      })(),
    )
    expect(error).toBeInstanceOf(ProviderUnavailableError)
    expect((error as Error).message).toMatch(/did not answer within 0\.3 s/)
    expect(chunks.join('')).toMatch(/^One /)
    expect(fresh()).toHaveLength(1)
    await until(() => fake().requests[seen].abandoned)
  })

  it('reports an error event in the middle of a stream, without another model taking over', async () => {
    configure({ defaultModel: model('main'), fallbackModels: [model('backup')] })
    startCounting()
    fake().reply({ text: 'One two three four', failAfter: { events: 4, status: 529, message: 'Overloaded' } })
    const error = await failure(drain(streamChat({ messages: [new HumanMessage('hi')] })))
    expect(error).toBeInstanceOf(ProviderUnavailableError)
    expect((error as Error).message).toMatch(new RegExp(`^.* \\(${model('main')}\\) failed: .*Overloaded`))
    expect(fresh()).toHaveLength(1)
  })

  it('answers provider_unavailable naming the variable when the provider refuses the key', async () => {
    useProviders(
      {},
      {
        [provider]: { apiKey: 'wrong-key', baseUrl: fake().url },
        defaultModel: model('main'),
        fallbackModels: [model('backup')],
      },
    )
    startCounting()
    const error = await failure(drain(streamChat({ messages: [new HumanMessage('hi')], maxRetries: 2 })))
    expect(error).toBeInstanceOf(ProviderUnavailableError)
    expect(error).toMatchObject({ code: 'provider_unavailable', status: 503 })
    expect((error as Error).message).toContain(keyVariable)
    expect((error as Error).message).not.toContain('wrong-key')
    expect(fresh()).toHaveLength(1)
  })

  it('stops the provider’s stream when the caller cancels mid-answer', async () => {
    configure({ defaultModel: model('main') })
    startCounting()
    fake().reply({ text: 'a b c d e f g h i j k l m n o p q r s t', delayMs: 40 })
    const controller = new AbortController()
    const texts: string[] = []
    const error = await failure(
      (async () => {
        for await (const chunk of streamChat({
          messages: [new HumanMessage('hi')],
          signal: controller.signal,
        })) {
          if (chunk.text) texts.push(chunk.text)
          if (texts.length === 3) controller.abort(new Error('user cancelled'))
        }
      })(),
    )
    expect(error).toEqual(new Error('user cancelled'))
    expect(texts).toEqual(['a ', 'b ', 'c '])
    await until(() => fake().requests[seen].abandoned)
  })
})

describe('across providers', () => {
  it('falls back from one provider to another', async () => {
    useProviders({ openai, anthropic }, { defaultModel: 'openai:main', fallbackModels: ['anthropic:backup'] })
    openai.reply({ error: { status: 502 } })
    anthropic.reply({ text: 'Anthropic answering.' })
    const result = await invokeChat({ messages: [new HumanMessage('hi')], maxRetries: 0 })
    expect(result).toMatchObject({
      model: 'anthropic:backup',
      failed: [{ model: 'openai:main', kind: 'down', status: 502 }],
    })
  })

  it('does not count a slow consumer’s time against the provider', async () => {
    useProviders({ openai }, { defaultModel: 'openai:main' })
    openai.reply({ text: ['slow ', 'but ', 'steady'] })
    const texts: string[] = []
    for await (const chunk of streamChat({ messages: [new HumanMessage('hi')], timeoutMs: 200 })) {
      texts.push(chunk.text)
      await new Promise((resolve) => setTimeout(resolve, 300))
    }
    expect(texts.join('')).toBe('slow but steady')
  })

  it('answers provider_unavailable naming the variables when no provider is configured', async () => {
    setAiConfigForTests(noProviders())
    const before = openai.requests.length + anthropic.requests.length
    const error = await failure(drain(streamChat({ messages: [new HumanMessage('hi')] })))
    expect(error).toBeInstanceOf(ProviderUnavailableError)
    const { message } = error as Error
    for (const variable of [
      'OPENAI_API_KEY',
      'ANTHROPIC_API_KEY',
      'XAI_API_KEY',
      'OPENROUTER_API_KEY',
      'OPENAI_BASE_URL',
    ]) {
      expect(message).toContain(variable)
    }
    expect(openai.requests.length + anthropic.requests.length).toBe(before)
  })

  it('skips a fallback whose provider is not configured', async () => {
    useProviders({ anthropic }, { defaultModel: 'anthropic:main', fallbackModels: ['openai:backup'] })
    anthropic.reply({ error: { status: 529 } })
    const error = await failure(invokeChat({ messages: [new HumanMessage('hi')], maxRetries: 0 }))
    expect((error as Error).message).toBe('Anthropic (anthropic:main) is unavailable (status 529)')
  })
})

describe('the providers that speak OpenAI’s protocol', () => {
  const last = () => openai.requests[openai.requests.length - 1]

  it('calls xAI at XAI_BASE_URL with XAI_API_KEY', async () => {
    useProviders(
      {},
      { xai: { apiKey: openai.apiKey ?? undefined, baseUrl: openai.url }, defaultModel: 'xai:grok-4' },
    )
    openai.reply({ text: 'Grok here.' })
    const result = await invokeChat({ messages: [new HumanMessage('hi')] })
    expect(result).toMatchObject({ model: 'xai:grok-4', message: { text: 'Grok here.' } })
    expect(last().body.model).toBe('grok-4')
    expect(last().headers.authorization).toBe(`Bearer ${openai.apiKey}`)
  })

  it('calls OpenRouter with its attribution headers', async () => {
    useProviders(
      {},
      {
        openrouter: { apiKey: openai.apiKey ?? undefined, baseUrl: openai.url },
        defaultModel: 'openrouter:meta-llama/llama-3.3-70b-instruct',
      },
    )
    openai.reply({ text: 'Llama here.' })
    await drain(streamChat({ messages: [new HumanMessage('hi')] }))
    expect(last().body.model).toBe('meta-llama/llama-3.3-70b-instruct')
    expect(last().headers).toMatchObject({ 'x-openrouter-title': 'Consilium', 'x-title': 'Consilium' })
  })

  it('calls an OpenAI-compatible server without a key, and without stream_options when told to', async () => {
    const ollama = await startFakeOpenAI({ apiKey: null })
    try {
      const config = {
        openai: { apiKey: undefined, baseUrl: ollama.url },
        defaultModel: 'openai-compatible:qwen3:8b',
      }
      useProviders({}, { ...config, compatibleStreamUsage: false })
      ollama.reply({ text: 'Qwen here.' }, { text: 'Qwen again.' })
      const quiet = await drain(streamChat({ messages: [new HumanMessage('hi')] }))
      expect(quiet.result).toMatchObject({ model: 'openai-compatible:qwen3:8b', usage: undefined })
      expect(ollama.requests[0].body).toMatchObject({ model: 'qwen3:8b', stream: true })
      expect(ollama.requests[0].body.stream_options).toBeUndefined()

      useProviders({}, config)
      const counted = await drain(streamChat({ messages: [new HumanMessage('hi')] }))
      expect(ollama.requests[1].body.stream_options).toEqual({ include_usage: true })
      expect(counted.result.usage?.output_tokens).toBe(2)
    } finally {
      await ollama.close()
    }
  })
})
