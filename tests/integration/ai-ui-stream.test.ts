import { toUIMessageStream } from '@ai-sdk/langchain'
import { HumanMessage } from '@langchain/core/messages'
import { createUIMessageStreamResponse, DefaultChatTransport, readUIMessageStream, type UIMessage } from 'ai'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { streamChat } from '../../shared/ai/chat.ts'
import { setAiConfigForTests } from '../../shared/config.ts'
import { useProviders } from '../helpers/ai.ts'
import { type FakeAnthropic, startFakeAnthropic } from '../helpers/fake-anthropic.ts'

// The pinned `ai` and `@ai-sdk/langchain` work with our streams: a streamed answer, turned into the
// AI SDK's UI message stream and served as SSE, read back by the AI SDK's own chat transport (what
// `useChat` uses), not by a hand-written parser.

let anthropic: FakeAnthropic
beforeAll(async () => {
  anthropic = await startFakeAnthropic()
})
afterAll(() => anthropic.close())
afterEach(() => setAiConfigForTests(undefined))

it('serves a streamed answer in the UI message stream protocol that the AI SDK’s chat transport reads', async () => {
  useProviders({ anthropic }, { defaultModel: 'anthropic:main' })
  anthropic.reply({ text: ['Your ', 'week ', 'looks ', 'calm.'] })
  const response = createUIMessageStreamResponse({
    stream: toUIMessageStream(streamChat({ messages: [new HumanMessage('How does my week look?')] })),
  })
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)

  const transport = new DefaultChatTransport<UIMessage>({
    api: 'http://consilium.test/ai/runs',
    fetch: async () => response,
  })
  const chunks = await transport.sendMessages({
    trigger: 'submit-message',
    chatId: 'c1',
    messageId: undefined,
    messages: [{ id: 'm1', role: 'user', parts: [{ type: 'text', text: 'How does my week look?' }] }],
    abortSignal: undefined,
  })
  let last: UIMessage | undefined
  for await (const message of readUIMessageStream<UIMessage>({ stream: chunks })) last = message
  expect(last?.role).toBe('assistant')
  expect(
    last?.parts
      .filter((part) => part.type === 'text')
      .map((part) => part.text)
      .join(''),
  ).toBe('Your week looks calm.')
})
