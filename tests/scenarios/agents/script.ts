import type { AnthropicMessagesBody } from '../../helpers/fake-anthropic.ts'
import type { OpenAIChatBody } from '../../helpers/fake-openai.ts'
import type { FakeAnswer, FakeError, FakeHang, FakeReply, FakeToolCall } from '../../helpers/fake-provider.ts'

// What a scripted model sees and says, the same for both fake providers: a request as `Sent` (the
// system prompt, the tools offered, the conversation, the tool results), and replies built with
// `say`, `call`, `calls`, `delegate` and `down`. A turn of a script is a reply, or a function of the
// request that returns one (a model that reads the ids in a tool result, or today's date in its prompt).

export type ProviderName = 'openai' | 'anthropic'

export interface SentToolCall {
  id: string
  name: string
  args: Record<string, unknown>
}

/** A tool's result as the model got it: its text, the JSON it holds, and the error if it is one. */
export interface SentToolResult {
  id: string
  /** The tool it answers (from the call with the same id). */
  name: string
  text: string
  json: unknown
  /** `{code, message, details?}` when the tool failed. */
  error?: { code: string; message: string; details?: Array<{ path: string; message: string }> }
}

export interface SentMessage {
  role: 'user' | 'assistant' | 'tool'
  text: string
  toolCalls: SentToolCall[]
  /** For a `tool` message: the result it carries. */
  result?: SentToolResult
}

/** One request a fake provider received, in a provider-neutral shape. */
export interface Sent {
  provider: ProviderName
  /** The provider's own model name (without `provider:`). */
  model: string
  system: string
  /** The names of the tools offered, in order. */
  tools: string[]
  /** The JSON Schema of each tool's parameters. */
  parameters: Record<string, unknown>
  temperature: number | undefined
  /** The conversation after the system prompt; tool results are `tool` messages, as OpenAI has them. */
  messages: SentMessage[]
  /** Every tool result in the request, oldest first. */
  results: SentToolResult[]
  /** The last user message's text (the task, for a specialist). */
  lastUser: string
  /** The JSON of the last tool result (of the tool named, if given); throws if there is none. */
  result<T = unknown>(name?: string): T
  /** The date the system prompt calls today (`YYYY-MM-DD`). */
  today: string
}

/** What a tool answered, as the model reads it: JSON inside a `<tool_result>` block (ADR 0030). */
const parse = (text: string): unknown => {
  const inner = /^<tool_result tool="[^"]*">\n([\s\S]*)\n<\/tool_result>$/.exec(text)?.[1] ?? text
  try {
    return JSON.parse(inner)
  } catch {
    return text
  }
}

function toolResult(id: string, name: string, text: string): SentToolResult {
  const json = parse(text)
  const error = (json as { error?: SentToolResult['error'] } | null)?.error
  return { id, name, text, json, ...(error && typeof error === 'object' ? { error } : {}) }
}

function finish(base: Omit<Sent, 'results' | 'lastUser' | 'result' | 'today'>): Sent {
  const results = base.messages.flatMap((message) => (message.result ? [message.result] : []))
  const lastUser = [...base.messages].reverse().find((message) => message.role === 'user')?.text ?? ''
  const today = /Today is \w+, (\d{4}-\d\d-\d\d)/.exec(base.system)?.[1] ?? ''
  return {
    ...base,
    results,
    lastUser,
    today,
    result<T>(name?: string): T {
      const found = [...results].reverse().find((result) => name === undefined || result.name === name)
      if (!found) throw new Error(`the model was sent no result${name ? ` of ${name}` : ''}`)
      return found.json as T
    },
  }
}

const openAIText = (content: OpenAIChatBody['messages'][number]['content']): string =>
  typeof content === 'string'
    ? content
    : Array.isArray(content)
      ? content.map((part) => part.text ?? '').join('')
      : ''

export function fromOpenAI(body: OpenAIChatBody): Sent {
  const names = new Map<string, string>()
  const messages: SentMessage[] = []
  let system = ''
  for (const message of body.messages) {
    if (message.role === 'system' || message.role === 'developer') {
      system += openAIText(message.content)
      continue
    }
    const toolCalls = (message.tool_calls ?? []).map((call) => {
      names.set(call.id, call.function.name)
      return { id: call.id, name: call.function.name, args: parse(call.function.arguments) as never }
    })
    const text = openAIText(message.content)
    messages.push({
      role: message.role,
      text,
      toolCalls,
      ...(message.role === 'tool'
        ? {
            result: toolResult(
              message.tool_call_id ?? '',
              names.get(message.tool_call_id ?? '') ?? '?',
              text,
            ),
          }
        : {}),
    })
  }
  return finish({
    provider: 'openai',
    model: body.model,
    system,
    tools: (body.tools ?? []).map((tool) => tool.function.name),
    parameters: Object.fromEntries(
      (body.tools ?? []).map((tool) => [tool.function.name, tool.function.parameters]),
    ),
    temperature: body.temperature,
    messages,
  })
}

type AnthropicBlock = Exclude<AnthropicMessagesBody['messages'][number]['content'], string>[number]

const blockText = (content: unknown): string =>
  typeof content === 'string'
    ? content
    : Array.isArray(content)
      ? content.map((part) => (part as { text?: string }).text ?? '').join('')
      : JSON.stringify(content ?? '')

export function fromAnthropic(body: AnthropicMessagesBody): Sent {
  const names = new Map<string, string>()
  const messages: SentMessage[] = []
  for (const message of body.messages) {
    const blocks: AnthropicBlock[] =
      typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content
    const text = blocks
      .filter((block) => block.type === 'text')
      .map((block) => (block as { text: string }).text)
      .join('')
    const toolCalls = blocks
      .filter((block) => block.type === 'tool_use')
      .map((block) => {
        const use = block as { id: string; name: string; input: Record<string, unknown> }
        names.set(use.id, use.name)
        return { id: use.id, name: use.name, args: use.input }
      })
    if (text || toolCalls.length || message.role === 'assistant')
      messages.push({ role: message.role, text, toolCalls })
    // Anthropic carries tool results as blocks of a user message; here each is a `tool` message.
    for (const block of blocks) {
      if (block.type !== 'tool_result') continue
      const id = block.tool_use_id
      const content = blockText(block.content)
      messages.push({
        role: 'tool',
        text: content,
        toolCalls: [],
        result: toolResult(id, names.get(id) ?? '?', content),
      })
    }
  }
  const system =
    typeof body.system === 'string' ? body.system : (body.system ?? []).map((block) => block.text).join('')
  return finish({
    provider: 'anthropic',
    model: body.model,
    system,
    tools: (body.tools ?? []).map((tool) => tool.name),
    parameters: Object.fromEntries((body.tools ?? []).map((tool) => [tool.name, tool.input_schema])),
    temperature: body.temperature,
    messages,
  })
}

/** What a scenario's model does for one request: a reply, or a function of what it was sent. */
export type Turn = FakeReply | ((sent: Sent) => FakeReply | Promise<FakeReply>)

/** The model answers in text (split into word deltas, as providers stream it). */
export const say = (text: string | string[], extra: Omit<FakeAnswer, 'text'> = {}): FakeAnswer => ({
  text,
  ...extra,
})

/** The model calls one tool. */
export const call = (name: string, args: Record<string, unknown> = {}, text?: string): FakeAnswer => ({
  toolCalls: [{ name, args }],
  ...(text ? { text } : {}),
})

/** The model calls several tools in one turn, in order. */
export const calls = (...list: Array<[name: string, args: Record<string, unknown>]>): FakeAnswer => ({
  toolCalls: list.map(([name, args]): FakeToolCall => ({ name, args })),
})

/** The coordinator hands a task to a specialist. */
export const delegate = (agentId: string, task: string): FakeAnswer =>
  call('delegate', { agent_id: agentId, task })

/** The provider fails the request with this HTTP status, in its own error shape. */
export const down = (status = 500, headers?: Record<string, string>): FakeError => ({
  error: { status },
  ...(headers ? { headers } : {}),
})

/** The provider accepts the request and never answers. */
export const hang = (): FakeHang => ({ hang: true })

/** `YYYY-MM-DD` plus some days. */
export function addDays(date: string, days: number): string {
  const at = new Date(`${date}T00:00:00Z`)
  at.setUTCDate(at.getUTCDate() + days)
  return at.toISOString().slice(0, 10)
}

/** The weekday of a `YYYY-MM-DD` date, 0 for Sunday. */
export const weekday = (date: string): number => new Date(`${date}T00:00:00Z`).getUTCDay()
