import { DefaultChatTransport, readUIMessageStream, type UIMessage } from 'ai'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { app } from '../../functions/ai/app.ts'
import { app as notesApp } from '../../functions/notes/app.ts'
import { backgroundSettled } from '../../shared/ai/engine.ts'
import { setRunLimitsForTests } from '../../shared/ai/limits.ts'
import { setAiConfigForTests } from '../../shared/config.ts'
import { closeSql } from '../../shared/db/client.ts'
import { noProviders, useProviders } from '../helpers/ai.ts'
import { expectJson, type Page } from '../helpers/domain.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { type FakeAnthropic, startFakeAnthropic } from '../helpers/fake-anthropic.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import type { FakeProvider, FakeReply } from '../helpers/fake-provider.ts'
import { adminSql, createUser, type TestUser } from '../helpers/stack.ts'

// Runs in process against the real database, the real LangChain models over the real SDKs, and the
// fake providers on 127.0.0.1: the answer is stored with the agent as its writer, the run is a
// record (status, model, usage, steps), and every failure ends the run with a code.

let openai: FakeOpenAI
let anthropic: FakeAnthropic
const sql = adminSql()

beforeAll(async () => {
  openai = await startFakeOpenAI()
  anthropic = await startFakeAnthropic()
})
afterAll(async () => {
  await backgroundSettled()
  await openai.close()
  await anthropic.close()
  await sql.end()
  await closeSql()
})
afterEach(async () => {
  await backgroundSettled()
  setAiConfigForTests(undefined)
  setRunLimitsForTests(undefined)
})

interface Run {
  id: string
  conversation_id: string
  trigger_message_id: string | null
  agent_id: string
  model: string | null
  status: string
  usage: Record<string, { input_tokens: number; output_tokens: number }>
  error: { code: string; message: string } | null
  started_at: string | null
  finished_at: string | null
}
interface Step {
  position: number
  kind: string
  name: string
  agent_id: string
  input: Record<string, unknown>
  output: Record<string, unknown>
  error: { code: string; message: string } | null
}
interface Message {
  id: string
  role: string
  content: string
  agent_id: string | null
  metadata: Record<string, unknown>
}

const call = (
  user: TestUser,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) =>
  app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${user.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })

async function conversation(user: TestUser): Promise<string> {
  const [{ id }] = await sql`insert into public.conversations (user_id) values (${user.id}) returning id`
  return id
}

const messagesOf = (conversationId: string) =>
  sql<Message[]>`
    select id, role, content, coalesce(agent_id, addressee) as agent_id, metadata from public.messages
    where conversation_id = ${conversationId} order by created_at, id`

const runOf = async (user: TestUser, id: string) =>
  expectJson<Run & { steps: Step[] }>(await call(user, 'GET', `/ai/runs/${id}`), 200)

async function start(user: TestUser, body: Record<string, unknown>): Promise<Run> {
  const run = await expectJson<Run>(await call(user, 'POST', '/ai/runs', body), 202)
  return run
}

const until = async (condition: () => Promise<boolean> | boolean, ms = 10_000) => {
  const end = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

interface Case {
  provider: 'openai' | 'anthropic'
  fake: () => FakeProvider<unknown>
  configure: () => void
  /** The system prompt, the roles and the tools of the nth request the fake received (from `from`). */
  received: (index: number) => { system: string; roles: string[]; tools: string[]; toolResults: string[] }
}

const cases: Case[] = [
  {
    provider: 'openai',
    fake: () => openai as FakeProvider<unknown>,
    configure: () => useProviders({ openai }, { defaultModel: 'openai:gpt-test' }),
    received: (index) => {
      const { body } = openai.requests[index]
      const system = body.messages.find((m) => m.role === 'system' || m.role === 'developer')
      return {
        system: String(system?.content ?? ''),
        roles: body.messages.map((m) => m.role),
        tools: (body.tools ?? []).map((t) => t.function.name),
        toolResults: body.messages.filter((m) => m.role === 'tool').map((m) => String(m.content)),
      }
    },
  },
  {
    provider: 'anthropic',
    fake: () => anthropic as FakeProvider<unknown>,
    configure: () => useProviders({ anthropic }, { defaultModel: 'anthropic:claude-test' }),
    received: (index) => {
      const { body } = anthropic.requests[index]
      const system =
        typeof body.system === 'string' ? body.system : (body.system ?? []).map((b) => b.text).join('')
      const toolResults = body.messages.flatMap((m) =>
        Array.isArray(m.content)
          ? m.content
              .filter((block) => block.type === 'tool_result')
              .map((block) => {
                const content = (block as { content: unknown }).content
                return typeof content === 'string' ? content : JSON.stringify(content)
              })
          : [],
      )
      return {
        system,
        roles: body.messages.map((m) => m.role),
        tools: (body.tools ?? []).map((t) => t.name),
        toolResults,
      }
    },
  },
]

describe.each(cases)('runs with $provider', ({ provider, fake, configure, received }) => {
  let ada: TestUser
  let bob: TestUser
  let seen = 0
  const mark = () => {
    seen = fake().requests.length
  }
  const reply = (...replies: FakeReply[]) => fake().reply(...replies)
  // These tests start many runs a minute; the per-minute limit has tests of its own below.
  beforeEach(() => setRunLimitsForTests({ runsPerMinute: 0 }))

  beforeAll(async () => {
    ada = await createUser('ada')
    bob = await createUser('bob')
    await sql`update public.profiles set full_name = 'Ada Lovelace' where id = ${ada.id}`
  })

  it('answers in the background: 202 queued, then the answer stored as the coordinator’s with usage and steps', async () => {
    configure()
    mark()
    const conversationId = await conversation(ada)
    await sql`insert into public.tasks (user_id, title, due_date) values (${ada.id}, 'File taxes', current_date - 1)`
    reply({ text: ['Your ', 'week ', 'looks ', 'calm.'], usage: { input: 120, output: 4 } })
    const run = await start(ada, { conversation_id: conversationId, content: 'How does my week look?' })
    expect(run).toMatchObject({ status: 'queued', agent_id: 'coordinator', conversation_id: conversationId })
    await backgroundSettled()

    const done = await runOf(ada, run.id)
    const model = provider === 'openai' ? 'openai:gpt-test' : 'anthropic:claude-test'
    expect(done).toMatchObject({
      status: 'succeeded',
      model,
      error: null,
    })
    // Anthropic counts the first output token in message_start as well.
    expect(done.usage[model]).toMatchObject({
      input_tokens: 120,
      output_tokens: provider === 'openai' ? 4 : 5,
    })
    expect(done.started_at).not.toBeNull()
    expect(done.steps.map((step) => step.kind)).toEqual(['context', 'model_call'])
    expect(done.steps[1]).toMatchObject({ name: model, agent_id: 'coordinator' })
    const messages = await messagesOf(conversationId)
    expect(messages.map(({ role, content, agent_id }) => ({ role, content, agent_id }))).toEqual([
      { role: 'user', content: 'How does my week look?', agent_id: null },
      { role: 'assistant', content: 'Your week looks calm.', agent_id: 'coordinator' },
    ])
    expect(messages[1].metadata).toMatchObject({ run_id: run.id, model })

    // The context provider: the agent's role, today's date, the user's name, what is overdue.
    const request = received(seen)
    expect(request.system).toContain('Coordinator of a crew of planning assistants')
    expect(request.system).toContain(`Today is`)
    expect(request.system).toContain(new Date().toISOString().slice(0, 10))
    expect(request.system).toContain('Ada Lovelace')
    expect(request.system).toMatch(/File taxes \(id [0-9a-f-]+; todo, medium, due \d{4}-\d\d-\d\d, overdue\)/)
    expect(request.roles.at(-1)).toBe('user')
    expect(request.tools).toEqual(expect.arrayContaining(['list_tasks', 'read_note', 'list_goals']))
    expect(request.tools).not.toContain('create_task')
  })

  it('streams the answer as the AI SDK UI message stream that the SDK’s own chat transport reads', async () => {
    configure()
    const conversationId = await conversation(ada)
    reply({ text: ['Plan ', 'on ', 'Sunday.'] })
    const transport = new DefaultChatTransport<UIMessage>({
      api: 'http://consilium.test/ai/runs',
      headers: { authorization: `Bearer ${ada.token}` },
      // useChat's body, as it sends it: the chat's id is the conversation's.
      fetch: async (url, init) => app.request(new Request(url as string, init)),
    })
    const chunks = await transport.sendMessages({
      trigger: 'submit-message',
      chatId: conversationId,
      messageId: undefined,
      messages: [{ id: 'm1', role: 'user', parts: [{ type: 'text', text: 'When should I plan?' }] }],
      abortSignal: undefined,
    })
    let last: UIMessage | undefined
    for await (const message of readUIMessageStream<UIMessage>({ stream: chunks })) last = message
    const text = last?.parts
      .filter((part) => part.type === 'text')
      .map((part) => part.text)
      .join('')
    expect(text).toBe('Plan on Sunday.')
    const metadata = last?.metadata as { run_id: string; status: string; message_id: string }
    expect(metadata.status).toBe('succeeded')
    const messages = await messagesOf(conversationId)
    expect(messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'When should I plan?'],
      ['assistant', 'Plan on Sunday.'],
    ])
    expect(messages[1].id).toBe(metadata.message_id)
    expect((await runOf(ada, metadata.run_id)).status).toBe('succeeded')
  })

  it('lets the task manager create a task through its tool, with the agent’s provenance, and answer', async () => {
    configure()
    mark()
    const conversationId = await conversation(ada)
    reply(
      { toolCalls: [{ name: 'create_task', args: { title: 'Buy milk', priority: 'high' } }] },
      { text: 'I added “Buy milk”.' },
    )
    const run = await start(ada, {
      conversation_id: conversationId,
      agent_id: 'task_manager',
      content: 'Remind me to buy milk',
    })
    await backgroundSettled()
    const done = await runOf(ada, run.id)
    expect(done.status).toBe('succeeded')
    expect(done.steps.map((step) => [step.kind, step.name])).toEqual([
      ['context', 'context'],
      ['model_call', expect.any(String)],
      ['tool_call', 'create_task'],
      ['model_call', expect.any(String)],
    ])
    const [task] = await sql`
      select id, title, priority, source, source_reference from public.tasks where user_id = ${ada.id} and title = 'Buy milk'`
    expect(task).toMatchObject({
      priority: 'high',
      source: 'agent',
      source_reference: { agent_id: 'task_manager', run_id: run.id, message_id: run.trigger_message_id },
    })
    expect(done.steps[2].output).toMatchObject({ result: { id: task.id, title: 'Buy milk' } })
    const messages = await messagesOf(conversationId)
    expect(messages.map((m) => [m.role, m.agent_id])).toEqual([
      ['user', 'task_manager'],
      ['tool', 'task_manager'],
      ['assistant', 'task_manager'],
    ])
    expect(messages[1].metadata).toMatchObject({ run_id: run.id, tool_name: 'create_task', is_error: false })
    expect(messages[2].content).toBe('I added “Buy milk”.')
    // The model saw the tool's result: the task as created.
    expect(received(seen + 1).toolResults[0]).toContain(task.id)
    expect(received(seen).tools).toContain('create_task')
  })

  it('lets the coordinator delegate to the task manager, whose task carries its own provenance', async () => {
    configure()
    mark()
    const conversationId = await conversation(ada)
    reply(
      {
        toolCalls: [
          { name: 'delegate', args: { agent_id: 'task_manager', task: 'Add a task: water the plants' } },
        ],
      },
      { toolCalls: [{ name: 'create_task', args: { title: 'Water the plants' } }] },
      { text: 'Created “Water the plants”.' },
      { text: 'The task manager added it.' },
    )
    const run = await start(ada, {
      conversation_id: conversationId,
      content: 'Remind me to water the plants',
    })
    await backgroundSettled()
    const done = await runOf(ada, run.id)
    expect(done.status).toBe('succeeded')
    expect(done.steps.map((step) => [step.kind, step.agent_id, step.name])).toEqual([
      ['context', 'coordinator', 'context'],
      ['model_call', 'coordinator', expect.any(String)],
      ['model_call', 'task_manager', expect.any(String)],
      ['tool_call', 'task_manager', 'create_task'],
      ['model_call', 'task_manager', expect.any(String)],
      ['delegation', 'coordinator', 'task_manager'],
      ['model_call', 'coordinator', expect.any(String)],
    ])
    expect(done.steps[5].output).toMatchObject({
      result: { agent_id: 'task_manager', answer: 'Created “Water the plants”.' },
    })
    const [task] =
      await sql`select source, source_reference from public.tasks where user_id = ${ada.id} and title = 'Water the plants'`
    expect(task.source_reference).toEqual({
      agent_id: 'task_manager',
      run_id: run.id,
      message_id: run.trigger_message_id,
    })
    // The coordinator is offered the delegation; the specialist gets its own prompt and tools, and no delegation.
    expect(received(seen).tools).toContain('delegate')
    expect(received(seen + 1).system).toContain('Task manager')
    expect(received(seen + 1).tools).toContain('create_task')
    expect(received(seen + 1).tools).not.toContain('delegate')
    expect(received(seen + 3).toolResults.at(-1)).toContain('Created “Water the plants”.')
    const messages = await messagesOf(conversationId)
    expect(messages.at(-1)).toMatchObject({
      role: 'assistant',
      agent_id: 'coordinator',
      content: 'The task manager added it.',
    })
  })

  it('turns a note into tasks: one per line, each with the agent’s provenance', async () => {
    configure()
    mark()
    const conversationId = await conversation(ada)
    const props = { textColor: 'default', backgroundColor: 'default', textAlignment: 'left' }
    const note = await expectJson<{ id: string }>(
      await notesApp.request('/notes', {
        method: 'POST',
        headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          title: 'Saturday',
          content: [
            {
              id: 'p1',
              type: 'paragraph',
              props,
              content: [{ type: 'text', text: 'Fix the bike', styles: {} }],
              children: [],
            },
            {
              id: 'p2',
              type: 'bulletListItem',
              props,
              content: [{ type: 'text', text: 'Call grandma', styles: {} }],
              children: [],
            },
          ],
        }),
      }),
      201,
    )
    reply(
      { toolCalls: [{ name: 'read_note', args: { id: note.id } }] },
      { toolCalls: [{ name: 'note_to_tasks', args: { id: note.id } }] },
      { text: 'Two tasks made.' },
    )
    const run = await start(ada, {
      conversation_id: conversationId,
      agent_id: 'task_manager',
      content: 'Turn my Saturday note into tasks',
    })
    await backgroundSettled()
    expect((await runOf(ada, run.id)).status).toBe('succeeded')
    // The model read the note as text.
    expect(received(seen + 1).toolResults[0]).toContain('Fix the bike\\n- Call grandma')
    const tasks = await sql`
      select title, source, source_reference, metadata from public.tasks
      where user_id = ${ada.id} and metadata ->> 'note_id' = ${note.id} order by created_at`
    expect(tasks.map((task) => task.title)).toEqual(['Fix the bike', 'Call grandma'])
    for (const task of tasks) {
      expect(task.source).toBe('agent')
      expect(task.source_reference).toEqual({
        agent_id: 'task_manager',
        run_id: run.id,
        message_id: run.trigger_message_id,
      })
    }
  })

  it('hands a tool’s validation error back to the model, which corrects itself; the run succeeds', async () => {
    configure()
    mark()
    const conversationId = await conversation(ada)
    reply(
      { toolCalls: [{ name: 'create_task', args: { title: '', due_time: '10:00' } }] },
      {
        toolCalls: [
          {
            name: 'create_task',
            args: { title: 'Call the bank', due_date: '2030-01-02', due_time: '10:00' },
          },
        ],
      },
      { text: 'Done.' },
    )
    const run = await start(ada, {
      conversation_id: conversationId,
      agent_id: 'task_manager',
      content: 'Call the bank',
    })
    await backgroundSettled()
    const done = await runOf(ada, run.id)
    expect(done.status).toBe('succeeded')
    const toolSteps = done.steps.filter((step) => step.kind === 'tool_call')
    expect(toolSteps[0].error).toMatchObject({ code: 'validation_failed' })
    expect(toolSteps[1].error).toBeNull()
    const error = received(seen + 1).toolResults[0]
    expect(error).toContain('validation_failed')
    expect(error).toContain('title')
    const tasks =
      await sql`select title from public.tasks where user_id = ${ada.id} and title = 'Call the bank'`
    expect(tasks).toHaveLength(1)
  })

  it('finds nothing of another user’s when the model asks for their ids, and changes nothing', async () => {
    configure()
    mark()
    const [bobsTask] =
      await sql`insert into public.tasks (user_id, title) values (${bob.id}, 'Bob’s secret') returning *`
    const [bobsNote] =
      await sql`insert into public.notes (user_id, title) values (${bob.id}, 'Bob’s diary') returning id`
    const conversationId = await conversation(ada)
    reply(
      {
        toolCalls: [
          { name: 'update_task', args: { id: bobsTask.id, changes: { title: 'pwned' } } },
          { name: 'delete_task', args: { id: bobsTask.id } },
          { name: 'append_to_note', args: { id: bobsNote.id, text: 'pwned' } },
        ],
      },
      { text: 'I could not find those.' },
    )
    const run = await start(ada, {
      conversation_id: conversationId,
      agent_id: 'task_manager',
      content: 'Take over',
    })
    await backgroundSettled()
    expect((await runOf(ada, run.id)).status).toBe('succeeded')
    const results = received(seen + 1).toolResults
    expect(results).toHaveLength(3)
    for (const result of results) expect(result).toContain('not_found')
    const [after] = await sql`select * from public.tasks where id = ${bobsTask.id}`
    expect(after).toEqual(bobsTask)
    const [note] = await sql`select content from public.notes where id = ${bobsNote.id}`
    expect(note.content).toEqual([])
  })

  it('fails the run with the provider’s 429 (rate_limited), keeping the user’s message', async () => {
    configure()
    const conversationId = await conversation(ada)
    reply({ error: { status: 429 }, headers: { 'retry-after': '7' } })
    const run = await start(ada, { conversation_id: conversationId, content: 'Hello?' })
    await backgroundSettled()
    const done = await runOf(ada, run.id)
    expect(done).toMatchObject({ status: 'failed', error: { code: 'rate_limited' } })
    expect((await messagesOf(conversationId)).map((m) => m.role)).toEqual(['user'])
  })

  it('fails the run after the provider’s 500s and after a provider that hangs (provider_unavailable)', async () => {
    configure()
    setRunLimitsForTests({ maxRetries: 0, modelTimeoutMs: 300, runsPerMinute: 0 })
    const conversationId = await conversation(ada)
    reply({ error: { status: 500 } })
    const down = await start(ada, { conversation_id: conversationId, content: 'Are you there?' })
    await backgroundSettled()
    expect(await runOf(ada, down.id)).toMatchObject({
      status: 'failed',
      error: { code: 'provider_unavailable' },
    })

    reply({ text: ['Thinking', ' more'], stallAfter: 3 })
    const slow = await start(ada, { conversation_id: conversationId, content: 'Still there?' })
    await backgroundSettled()
    const done = await runOf(ada, slow.id)
    expect(done).toMatchObject({ status: 'failed', error: { code: 'provider_unavailable' } })
  })

  it('fails the run naming the key’s variable when the provider refuses the key', async () => {
    if (provider === 'openai')
      useProviders(
        { openai },
        { openai: { apiKey: 'sk-wrong', baseUrl: openai.url }, defaultModel: 'openai:gpt-test' },
      )
    else
      useProviders(
        { anthropic },
        { anthropic: { apiKey: 'sk-wrong', baseUrl: anthropic.url }, defaultModel: 'anthropic:claude-test' },
      )
    const conversationId = await conversation(ada)
    const run = await start(ada, { conversation_id: conversationId, content: 'Hi' })
    await backgroundSettled()
    const done = await runOf(ada, run.id)
    expect(done.status).toBe('failed')
    expect(done.error?.code).toBe('provider_unavailable')
    expect(done.error?.message).toContain(provider === 'openai' ? 'OPENAI_API_KEY' : 'ANTHROPIC_API_KEY')
    expect(done.error?.message).not.toContain('sk-wrong')
  })

  it('cancels a run mid-stream: the provider’s stream stops and the partial answer is kept, marked', async () => {
    configure()
    mark()
    const conversationId = await conversation(ada)
    reply({ text: Array.from({ length: 200 }, (_, i) => `word${i} `), delayMs: 20 })
    const run = await start(ada, { conversation_id: conversationId, content: 'Tell me a long story' })
    await until(
      async () =>
        (await sql`select status from public.agent_runs where id = ${run.id}`)[0].status === 'running',
    )
    await fake().received(seen + 1)
    await new Promise((resolve) => setTimeout(resolve, 200))
    const cancelled = await expectJson<Run>(await call(ada, 'POST', `/ai/runs/${run.id}/cancel`), 200)
    expect(cancelled.status).toBe('cancelled')
    await backgroundSettled()
    expect(fake().requests[seen].abandoned).toBe(true)
    const done = await runOf(ada, run.id)
    expect(done.status).toBe('cancelled')
    const [, answer] = await messagesOf(conversationId)
    expect(answer).toMatchObject({
      role: 'assistant',
      agent_id: 'coordinator',
      metadata: { cancelled: true, run_id: run.id },
    })
    expect(answer.content).toMatch(/^word0 word1 /)
    expect(answer.content).not.toContain('word199')
    // Cancelling again answers the run as it is; a finished run cannot be cancelled.
    expect((await expectJson<Run>(await call(ada, 'POST', `/ai/runs/${run.id}/cancel`), 200)).status).toBe(
      'cancelled',
    )
  })
})

describe('runs: a user’s own agent, and the bounds of a run', () => {
  let ada: TestUser
  beforeAll(async () => {
    ada = await createUser('ada')
  })
  beforeEach(() => {
    useProviders({ openai }, { defaultModel: 'openai:gpt-test' })
    setRunLimitsForTests({ runsPerMinute: 0 })
  })

  it('runs a user’s own agent with its role, instructions, tools and model', async () => {
    const agent = await expectJson<{ id: string }>(
      await call(ada, 'POST', '/ai/agents', {
        name: 'Gardener',
        role: 'Keeper of the garden list',
        goal: 'Track what the garden needs',
        instructions: 'Always answer in one sentence.',
        tools: ['create_task'],
        model: 'openai:gpt-garden',
        temperature: 0.7,
      }),
      201,
    )
    const seen = openai.requests.length
    openai.reply({ text: 'Noted.' })
    const run = await start(ada, {
      conversation_id: await conversation(ada),
      agent_id: agent.id,
      content: 'Roses',
    })
    await backgroundSettled()
    expect(await runOf(ada, run.id)).toMatchObject({
      status: 'succeeded',
      agent_id: agent.id,
      model: 'openai:gpt-garden',
    })
    const { body } = openai.requests[seen]
    expect(body.model).toBe('gpt-garden')
    expect(body.temperature).toBe(0.7)
    expect(String(body.messages[0].content)).toContain('You are Gardener, Keeper of the garden list.')
    expect(String(body.messages[0].content)).toContain('Always answer in one sentence.')
    expect((body.tools ?? []).map((t) => t.function.name)).toEqual(['create_task'])
  })

  it('stops at the run’s limit of model calls and of tool calls, saying so', async () => {
    setRunLimitsForTests({ runsPerMinute: 0, maxModelCalls: 3, maxToolCalls: 2 })
    const seen = openai.requests.length
    const listing = { toolCalls: [{ name: 'list_tasks', args: {} }] }
    openai.reply(
      listing,
      {
        toolCalls: [
          { name: 'list_tasks', args: {} },
          { name: 'list_tasks', args: {} },
        ],
      },
      listing,
    )
    const run = await start(ada, {
      conversation_id: await conversation(ada),
      agent_id: 'task_manager',
      content: 'Loop',
    })
    await backgroundSettled()
    const done = await runOf(ada, run.id)
    expect(done.status).toBe('succeeded')
    expect(openai.requests.length - seen).toBe(3)
    const tools = done.steps.filter((step) => step.kind === 'tool_call')
    expect(tools.map((step) => step.error?.code ?? 'ok')).toEqual(['ok', 'ok', 'limit_reached'])
    const [answer] = await sql`
      select content from public.messages where conversation_id = ${done.conversation_id} and role = 'assistant'`
    expect(answer.content).toContain('limit of 3 model calls')
  })

  it('fails a run that takes longer than its wall-clock limit (timeout)', async () => {
    setRunLimitsForTests({ runsPerMinute: 0, runTimeoutMs: 1000 })
    openai.reply({ text: Array.from({ length: 100 }, (_, i) => `slow${i} `), delayMs: 50 })
    const run = await start(ada, { conversation_id: await conversation(ada), content: 'Take your time' })
    await backgroundSettled()
    expect(await runOf(ada, run.id)).toMatchObject({ status: 'failed', error: { code: 'timeout' } })
  })

  it('cancels a streamed run when its client goes away', async () => {
    const conversationId = await conversation(ada)
    openai.reply({ text: Array.from({ length: 200 }, (_, i) => `w${i} `), delayMs: 20 })
    const abort = new AbortController()
    const response = await app.request('/ai/runs', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${ada.token}`,
        'content-type': 'application/json',
        accept: 'text/event-stream',
      },
      body: JSON.stringify({ conversation_id: conversationId, content: 'Long story' }),
      signal: abort.signal,
    })
    const runId = response.headers.get('x-run-id') as string
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    while (!text.includes('w3 ')) text += new TextDecoder().decode((await reader.read()).value)
    abort.abort()
    await reader.cancel().catch(() => {})
    await until(
      async () =>
        (await sql`select status from public.agent_runs where id = ${runId}`)[0].status === 'cancelled',
    )
    await backgroundSettled()
    await until(async () => (await messagesOf(conversationId)).length === 2)
    const [, partial] = await messagesOf(conversationId)
    expect(partial.metadata).toMatchObject({ cancelled: true })
  })
})

describe('runs: what is refused, and limits', () => {
  let ada: TestUser
  let bob: TestUser
  beforeAll(async () => {
    ada = await createUser('ada')
    bob = await createUser('bob')
  })
  const footprint = async (user: TestUser) => {
    const [row] = await sql`
      select (select count(*) from public.messages where user_id = ${user.id})::int as messages,
             (select count(*) from public.agent_runs where user_id = ${user.id})::int as runs`
    return row
  }

  it('with no provider configured: stores the message, fails the run (202), and answers a stream 503', async () => {
    setAiConfigForTests(noProviders())
    const conversationId = await conversation(ada)
    const run = await expectJson<Run>(
      await call(ada, 'POST', '/ai/runs', { conversation_id: conversationId, content: 'Anyone?' }),
      202,
    )
    expect(run).toMatchObject({ status: 'failed', error: { code: 'provider_unavailable' } })
    expect(run.error?.message).toContain('OPENAI_API_KEY')
    const error = await expectErrorEnvelope(
      await call(
        ada,
        'POST',
        '/ai/runs',
        { conversation_id: conversationId, content: 'Hello?' },
        { accept: 'text/event-stream' },
      ),
      503,
      'provider_unavailable',
    )
    expect(error.message).toContain('ANTHROPIC_API_KEY')
    const messages = await messagesOf(conversationId)
    expect(messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Anyone?'],
      ['user', 'Hello?'],
    ])
    const page = await expectJson<Page<Run>>(
      await call(ada, 'GET', `/ai/runs?conversation_id=${conversationId}&status=failed`),
      200,
    )
    expect(page.data).toHaveLength(2)
    expect(page.data.every((item) => item.error?.code === 'provider_unavailable')).toBe(true)
  })

  it('refuses an unknown agent (404), a disabled one (409), another user’s conversation (404) and bad input (422), storing nothing', async () => {
    useProviders({ openai }, { defaultModel: 'openai:gpt-test' })
    const conversationId = await conversation(ada)
    const bobsConversation = await conversation(bob)
    await sql`insert into public.agents (user_id, builtin_id, enabled) values (${ada.id}, 'planner', false)`
    const before = await footprint(ada)
    const bobBefore = await footprint(bob)
    const send = (body: unknown) => call(ada, 'POST', '/ai/runs', body)
    await expectErrorEnvelope(
      await send({ conversation_id: conversationId, agent_id: 'no_such_agent', content: 'x' }),
      404,
      'not_found',
    )
    await expectErrorEnvelope(
      await send({ conversation_id: conversationId, agent_id: crypto.randomUUID(), content: 'x' }),
      404,
      'not_found',
    )
    await expectErrorEnvelope(
      await send({ conversation_id: conversationId, agent_id: 'planner', content: 'x' }),
      409,
      'conflict',
    )
    await expectErrorEnvelope(
      await send({ conversation_id: bobsConversation, content: 'pwned' }),
      404,
      'not_found',
    )
    await expectErrorEnvelope(
      await send({ conversation_id: conversationId, content: '   ' }),
      422,
      'validation_failed',
    )
    await expectErrorEnvelope(
      await send({ conversation_id: conversationId, content: 'x'.repeat(40_000) }),
      422,
      'validation_failed',
    )
    await expectErrorEnvelope(await send({ conversation_id: 'nope', content: 'x' }), 422, 'validation_failed')
    expect(await footprint(ada)).toEqual(before)
    expect(await footprint(bob)).toEqual(bobBefore)
    const bobSees = await expectJson<Page<Run>>(
      await call(bob, 'GET', `/ai/runs?conversation_id=${conversationId}`),
      200,
    )
    expect(bobSees.data).toEqual([])
  })

  it('allows at most 2 runs at once per user (429 with Retry-After), storing nothing for the refused one', async () => {
    useProviders({ openai }, { defaultModel: 'openai:gpt-test' })
    setRunLimitsForTests({ maxActiveRuns: 2, runsPerMinute: 0 })
    const conversationId = await conversation(ada)
    openai.reply({ hang: true }, { hang: true })
    const first = await start(ada, { conversation_id: conversationId, content: 'one' })
    const second = await start(ada, { conversation_id: conversationId, content: 'two' })
    const before = await footprint(ada)
    const refused = await call(ada, 'POST', '/ai/runs', { conversation_id: conversationId, content: 'three' })
    const error = await expectErrorEnvelope(refused, 429, 'rate_limited')
    expect(error.message).toContain('At most 2 runs')
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await footprint(ada)).toEqual(before)
    // Bob is not held up by Ada's runs.
    openai.reply({ text: 'Hi Bob' })
    await start(bob, { conversation_id: await conversation(bob), content: 'hi' })
    for (const run of [first, second]) await call(ada, 'POST', `/ai/runs/${run.id}/cancel`)
    await backgroundSettled()
    openai.reply({ text: 'Again' })
    await start(ada, { conversation_id: conversationId, content: 'four' })
  })

  it('allows a configured number of runs a minute, counted in the database (429 with Retry-After)', async () => {
    setAiConfigForTests(noProviders())
    setRunLimitsForTests({ maxActiveRuns: 0, runsPerMinute: 3 })
    const user = await createUser('busy')
    const conversationId = await conversation(user)
    // A minute that is about to end would reset the count in the middle of the test.
    if (new Date().getSeconds() > 55) await new Promise((resolve) => setTimeout(resolve, 6000))
    for (const content of ['a', 'b', 'c']) await start(user, { conversation_id: conversationId, content })
    const refused = await call(user, 'POST', '/ai/runs', { conversation_id: conversationId, content: 'd' })
    await expectErrorEnvelope(refused, 429, 'rate_limited')
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    const [count] = await sql`select count from private.request_counts where key = ${`runs:${user.id}`}`
    expect(count.count).toBe(3)
    // Deleting the conversation (and its runs) does not reset the count.
    await sql`delete from public.conversations where id = ${conversationId}`
    await expectErrorEnvelope(
      await call(user, 'POST', '/ai/runs', { conversation_id: await conversation(user), content: 'e' }),
      429,
      'rate_limited',
    )
  })

  it('marks a run cut off by a crash failed (interrupted) instead of leaving it running', async () => {
    setAiConfigForTests(noProviders())
    const user = await createUser('crash')
    const conversationId = await conversation(user)
    const [message] = await sql`
      insert into public.messages (user_id, conversation_id, role, content) values (${user.id}, ${conversationId}, 'user', 'hi')
      returning id`
    const [stale] = await sql`
      insert into public.agent_runs (user_id, conversation_id, trigger_message_id, agent_id, status, started_at, created_at)
      values (${user.id}, ${conversationId}, ${message.id}, 'coordinator', 'running', now() - interval '10 minutes',
              now() - interval '10 minutes')
      returning id`
    // As if its instance stopped ten minutes ago (the trigger that moves updated_at is off for this).
    await sql.begin(async (tx) => {
      await tx`alter table public.agent_runs disable trigger set_updated_at`
      await tx`update public.agent_runs set updated_at = now() - interval '10 minutes' where id = ${stale.id}`
      await tx`alter table public.agent_runs enable trigger set_updated_at`
    })
    await start(user, { conversation_id: conversationId, content: 'again' })
    expect(await runOf(user, stale.id)).toMatchObject({ status: 'failed', error: { code: 'interrupted' } })
  })
})
