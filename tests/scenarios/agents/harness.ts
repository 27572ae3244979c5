import type postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { app as aiApp } from '../../../functions/ai/app.ts'
import { app as notesApp } from '../../../functions/notes/app.ts'
import { backgroundSettled } from '../../../shared/ai/engine.ts'
import { loadRunLimits, type RunLimits, setRunLimitsForTests } from '../../../shared/ai/limits.ts'
import { type AiConfig, setAiConfigForTests } from '../../../shared/config.ts'
import { closeSql } from '../../../shared/db/client.ts'
import { useProviders } from '../../helpers/ai.ts'
import { type FakeAnthropic, startFakeAnthropic } from '../../helpers/fake-anthropic.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../../helpers/fake-openai.ts'
import type { FakeProvider, FakeReply } from '../../helpers/fake-provider.ts'
import { adminSql, createUser, type TestUser } from '../../helpers/stack.ts'
import { fromAnthropic, fromOpenAI, type ProviderName, type Sent, type Turn } from './script.ts'

// The agent scenario suite's harness (issue 10, point 6; ADR 0035). A scenario is a conversation:
// what the user has (rows arranged as the user), what they say, what the scripted model answers (see
// script.ts), and the end state, read from the database. It runs in process against the shared
// local stack: the ai function's app, the real engine over the real SDKs, and the fake providers on
// 127.0.0.1. Broadcasts still go to the stack's Realtime; the harness notes them on the way.
//
// Every scenario runs once per provider (OpenAI and Anthropic) with a user of its own, and ends with
// checks that hold for every run (`verify`): the other user's rows are exactly as they were, the
// model was asked nothing the script did not answer, every row an agent made names its run, agent
// and message, the steps are numbered and the stored messages and broadcasts match them, the answer
// is the text that streamed, and the run kept its limits.
//
//   scenario('…', async (world) => {
//     const task = await world.task({ title: 'Pay the rent' })          // what the user has
//     world.script(call('complete_task', { id: task.id }), say('Done.')) // what the model says
//     const { run, steps, answer } = await world.ask('I paid the rent', { agent: 'task_manager' })
//     expect((await world.row('tasks', task.id)).status).toBe('done')   // the end state
//   })
//
// A scenario of a route still to come (approval, undo, schedules) calls it with `world.api(method,
// path, body)` and reads the run again with `world.settle(run)`; runs started another way (a
// schedule) are checked too, since `verify` reads every run of the user from the database. A new run
// status (awaiting_approval) or broadcast (approval_required) goes into `verifyRun` below.

export const MODELS: Record<ProviderName, string> = {
  openai: 'openai:gpt-scenario',
  anthropic: 'anthropic:claude-scenario',
}

export interface Run {
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

export interface Step {
  id: string
  position: number
  kind: 'context' | 'model_call' | 'tool_call' | 'delegation'
  name: string
  agent_id: string
  input: Record<string, unknown>
  output: Record<string, unknown>
  error: { code: string; message: string } | null
}

export interface Message {
  id: string
  role: 'user' | 'assistant' | 'tool' | 'system'
  content: string
  /** The writer: the agent for assistant and tool messages, null for the user's own. */
  agent_id: string | null
  /** The agent a user message was addressed to. */
  addressee: string | null
  metadata: Record<string, unknown>
}

/** A run as it ended, with what it wrote and what its model was sent. */
export interface Outcome {
  run: Run
  steps: Step[]
  /** The user's message and everything the run wrote, in order. */
  messages: Message[]
  /** The agent's answer, if the run stored one. */
  answer: Message | undefined
  /** The tool-call steps (not the delegations), in order. */
  tools: Step[]
  /** What the run broadcast on `conversation:{id}`, in order. */
  broadcasts: Broadcast[]
  /** The model requests made while the run worked, in order, both providers. */
  sent: Sent[]
}

/** The other user's rows, made once per provider; scenarios aim their tools at these ids. */
export interface Victim extends TestUser {
  task: string
  note: string
  goal: string
  reflection: string
  conversation: string
}

/** A broadcast a run made on its conversation's channel (what Realtime subscribers receive). */
export interface Broadcast {
  topic: string
  event: string
  payload: Record<string, unknown> & { run_id: string; seq: number }
}

export interface AskOptions {
  /** The agent addressed (default: the coordinator). */
  agent?: string
  /** The conversation (default: the scenario's own). */
  conversation?: string
}

let active: World | undefined
const sql = adminSql()

/** A conversation's messages that belong to a run: its trigger and what it wrote. */
const runMessages = (runId: string, triggerId: string | null) =>
  sql<Message[]>`
    select id, role::text as role, content, agent_id, addressee, metadata from public.messages
    where id = ${triggerId} or metadata ->> 'run_id' = ${runId}
    order by created_at, id`

const TABLES = [
  'tasks',
  'notes',
  'goals',
  'reflections',
  'conversations',
  'messages',
  'agents',
  'agent_runs',
  'agent_run_steps',
] as const

/** Every row a user has in the tables agents can reach (and the records of runs), as JSON text. */
export async function footprint(user: TestUser): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  for (const table of TABLES) {
    const rows = await sql<{ row: string }[]>`
      select to_jsonb(t)::text as row from ${sql(`public.${table}`)} t where user_id = ${user.id}
      order by to_jsonb(t)::text`
    out[table] = rows.map((r) => r.row)
  }
  return out
}

const props = { textColor: 'default', backgroundColor: 'default', textAlignment: 'left' }

/** BlockNote blocks of text lines; `- [ ] x` lines are checklist items, `- x` bullets. */
export function blocks(lines: string[]) {
  return lines.map((line, index) => {
    const item = /^- \[( |x)\] (.*)$/.exec(line)
    const bullet = !item && /^- (.*)$/.exec(line)
    return {
      id: `b${index}`,
      type: item ? 'checkListItem' : bullet ? 'bulletListItem' : 'paragraph',
      props: item ? { ...props, checked: item[1] === 'x' } : props,
      content: [{ type: 'text', text: item ? item[2] : bullet ? bullet[1] : line, styles: {} }],
      children: [],
    }
  })
}

/** One scenario's world: its user, its conversation, the scripted model and what happened. */
export class World {
  /** Scripted turns not yet used, per provider. */
  private readonly scripts: Record<ProviderName, Turn[]> = { openai: [], anthropic: [] }
  private readonly forever: Partial<Record<ProviderName, Turn>> = {}
  private readonly problems: string[] = []
  /** Every model request of the scenario, in order, both providers. */
  readonly sent: Sent[] = []
  /** The runs this scenario started, in order. */
  readonly runs: Run[] = []
  /** Every broadcast the scenario's runs made, as they went out. */
  readonly broadcasts: Broadcast[] = []
  private leftoverAllowed = false
  private bobBefore: Record<string, string[]> = {}

  private constructor(
    readonly provider: ProviderName,
    readonly ada: TestUser,
    readonly bob: Victim,
    readonly conversationId: string,
  ) {}

  /** The provider the scenario's fallback model is on. */
  get other(): ProviderName {
    return this.provider === 'openai' ? 'anthropic' : 'openai'
  }

  /** The model the scenario's agents use (AI_DEFAULT_MODEL). */
  get model(): string {
    return MODELS[this.provider]
  }

  readonly sql = sql

  static async create(provider: ProviderName, bob: Victim, fakes: Fakes): Promise<World> {
    const ada = await createUser('ada')
    await sql`update public.profiles set full_name = 'Ada Lovelace' where id = ${ada.id}`
    const [{ id }] = await sql`
      insert into public.conversations (user_id, title) values (${ada.id}, 'scenario') returning id`
    const world = new World(provider, ada, bob, id)
    useProviders(fakes, { defaultModel: MODELS[provider], fallbackModels: [] })
    // Scenarios start runs quickly one after another, and a scripted 5xx is not to be retried unless asked.
    setRunLimitsForTests({ runsPerMinute: 0, maxRetries: 0 })
    world.bobBefore = await footprint(bob)
    return world
  }

  // The model.

  /** The scenario's model (on `provider`) answers the next requests with these turns, in order. */
  script(...turns: Turn[]): this {
    this.scripts[this.provider].push(...turns)
    return this
  }

  /** Turns for a model on the given provider (a fallback, say). */
  scriptOn(provider: ProviderName, ...turns: Turn[]): this {
    this.scripts[provider].push(...turns)
    return this
  }

  /** Once the script is used up, every further request on the provider gets this turn (a model that loops). */
  always(turn: Turn, provider: ProviderName = this.provider): this {
    this.forever[provider] = turn
    return this
  }

  /** The scenario ends with scripted turns unused (a run that stopped before reaching them). */
  allowLeftoverTurns(): this {
    this.leftoverAllowed = true
    return this
  }

  /** Answers one request a fake received (called by the fakes). */
  async answer(provider: ProviderName, body: unknown): Promise<FakeReply> {
    const sent = provider === 'openai' ? fromOpenAI(body as never) : fromAnthropic(body as never)
    this.sent.push(sent)
    const turn = this.scripts[provider].shift() ?? this.forever[provider]
    if (!turn) {
      this.problems.push(
        `request ${this.sent.length} to ${provider} was not scripted (last user message: ${JSON.stringify(sent.lastUser.slice(0, 120))}; results: ${sent.results.map((r) => r.name).join(', ')})`,
      )
      return { error: { status: 400, message: 'No reply was scripted for this request' } }
    }
    try {
      return typeof turn === 'function' ? await turn(sent) : turn
    } catch (error) {
      this.problems.push(`the script failed on request ${this.sent.length}: ${(error as Error).stack}`)
      return { error: { status: 400, message: 'The scripted turn failed' } }
    }
  }

  /** Records broadcasts on their way to Realtime (called by the fetch the harness wraps). */
  heard(messages: Broadcast[]): void {
    this.broadcasts.push(...messages)
  }

  /** A run's broadcasts so far, in order. */
  broadcastsOf(runId: string): Broadcast[] {
    return this.broadcasts
      .filter((message) => message.payload.run_id === runId)
      .sort((a, b) => a.payload.seq - b.payload.seq)
  }

  /** The text a run has streamed so far (its `token` broadcasts). */
  streamed(runId: string): string {
    return this.broadcastsOf(runId)
      .filter((message) => message.event === 'token')
      .map((message) => message.payload.text)
      .join('')
  }

  // Settings.

  /** Changes the AI configuration (fallback models, keys) for this scenario. */
  configure(overrides: Partial<AiConfig>): this {
    useProviders(fakes(), { defaultModel: this.model, fallbackModels: [], ...overrides })
    return this
  }

  /** Changes the run limits for this scenario. */
  limit(overrides: Partial<RunLimits>): this {
    setRunLimitsForTests({ runsPerMinute: 0, maxRetries: 0, ...overrides })
    return this
  }

  // The conversation.

  /** Calls a route of the ai function in process, as Ada (or another user). */
  async api(method: string, path: string, body?: unknown, user: TestUser = this.ada): Promise<Response> {
    return aiApp.request(path, {
      method,
      headers: {
        authorization: `Bearer ${user.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  }

  /** The user says something; the run is queued (202) and works in the background. */
  async start(content: string, options: AskOptions = {}): Promise<Run> {
    const response = await this.api('POST', '/ai/runs', {
      conversation_id: options.conversation ?? this.conversationId,
      content,
      ...(options.agent ? { agent_id: options.agent } : {}),
    })
    const text = await response.text()
    expect(response.status, text).toBe(202)
    const run = JSON.parse(text) as Run
    this.runs.push(run)
    return run
  }

  /** The run most recently started (for a scripted turn that acts on it, e.g. cancels it). */
  get current(): Run {
    const run = this.runs.at(-1)
    if (!run) throw new Error('no run has started')
    return run
  }

  /** Waits for the background work to end, then reads the run, its steps and its messages. */
  async settle(run: Run, sentFrom = 0): Promise<Outcome> {
    await backgroundSettled()
    const response = await this.api('GET', `/ai/runs/${run.id}`)
    expect(response.status).toBe(200)
    const { steps, ...ended } = (await response.json()) as Run & { steps: Step[] }
    const messages = await runMessages(run.id, run.trigger_message_id)
    return {
      run: ended,
      steps,
      messages,
      answer: messages.find((message) => message.role === 'assistant'),
      tools: steps.filter((step) => step.kind === 'tool_call'),
      broadcasts: this.broadcastsOf(run.id),
      sent: this.sent.slice(sentFrom),
    }
  }

  /** The user says something and the run works to its end. */
  async ask(content: string, options: AskOptions = {}): Promise<Outcome> {
    const from = this.sent.length
    const run = await this.start(content, options)
    return this.settle(run, from)
  }

  /** Waits until the condition holds (10 s at most). */
  async until(condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
    const end = Date.now() + ms
    while (!(await condition())) {
      if (Date.now() > end) throw new Error('the condition was not met in time')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  // What the user has (arranged as the user: manual rows).

  async task(fields: Record<string, unknown>): Promise<{ id: string; title: string }> {
    const [row] = await sql`insert into public.tasks ${sql({ user_id: this.ada.id, ...fields })} returning *`
    return row as { id: string; title: string }
  }

  async goal(fields: Record<string, unknown>): Promise<{ id: string; title: string }> {
    const [row] = await sql`
      insert into public.goals ${sql({ user_id: this.ada.id, timeframe: 'monthly', ...fields })} returning *`
    return row as { id: string; title: string }
  }

  /** A note written through the notes function (so its checklist items become tasks). */
  async note(title: string, lines: string[]): Promise<{ id: string; title: string }> {
    const response = await notesApp.request('/notes', {
      method: 'POST',
      headers: { authorization: `Bearer ${this.ada.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title, content: blocks(lines) }),
    })
    expect(response.status).toBe(201)
    return (await response.json()) as { id: string; title: string }
  }

  /**
   * Messages already in the conversation, as if said earlier (oldest first): a second apart, the
   * last a second ago. Their times are set, not left to now(): the embedded database's clock counts
   * whole milliseconds, so rows written quickly one after another can share a created_at, and the
   * tie is broken by their random ids.
   */
  async history(turns: Array<{ role: 'user' | 'assistant'; content: string }>): Promise<void> {
    for (const [index, turn] of turns.entries()) {
      await sql`
        insert into public.messages (user_id, conversation_id, role, content, agent_id, created_at)
        values (${this.ada.id}, ${this.conversationId}, ${turn.role}, ${turn.content},
                ${turn.role === 'assistant' ? 'coordinator' : null},
                now() - make_interval(secs => ${turns.length - index}))`
    }
  }

  // Reading the database.

  /** The user's tasks (as JSON: dates as `YYYY-MM-DD`), oldest first, with an optional `and …` filter. */
  async tasks(where = sql``): Promise<Array<postgres.Row>> {
    const rows = await sql<{ row: postgres.Row }[]>`
      select to_jsonb(t) as row from public.tasks t where user_id = ${this.ada.id} ${where}
      order by created_at, id`
    return rows.map(({ row }) => row)
  }

  /** One row as JSON (dates as `YYYY-MM-DD`), or undefined if it is gone. */
  async row(table: 'tasks' | 'notes' | 'goals' | 'reflections', id: string): Promise<postgres.Row> {
    const [found] = await sql<{ row: postgres.Row }[]>`
      select to_jsonb(t) as row from ${sql(`public.${table}`)} t where id = ${id}`
    return found?.row
  }

  /** The reference an agent's row carries: the agent, the run and the message it answered. */
  reference(run: Run, agentId: string) {
    return { agent_id: agentId, run_id: run.id, message_id: run.trigger_message_id }
  }

  // What holds after every scenario.

  async verify(): Promise<void> {
    await backgroundSettled()
    expect(this.problems, 'the scripted model').toEqual([])
    if (!this.leftoverAllowed) {
      const left = Object.entries(this.scripts).filter(([, turns]) => turns.length > 0)
      expect(
        left.map(([provider, turns]) => `${provider}: ${turns.length}`),
        'scripted turns left unused',
      ).toEqual([])
    }
    expect(await footprint(this.bob), 'the other user’s rows').toEqual(this.bobBefore)

    const limits = loadRunLimits()
    const runs = await sql<Run[]>`select * from public.agent_runs where user_id = ${this.ada.id}`
    const byId = new Map<string, Outcome>()
    for (const run of runs) {
      const outcome = await this.settle(run)
      byId.set(run.id, outcome)
      verifyRun(outcome, limits)
    }

    // Every row an agent made names a run of this user, the message it answered, and an agent that
    // called tools in that run.
    for (const table of ['tasks', 'notes', 'goals', 'reflections'] as const) {
      const made = await sql<{ id: string; source_reference: Record<string, string> }[]>`
        select id, source_reference from ${sql(`public.${table}`)}
        where user_id = ${this.ada.id} and source = 'agent'`
      for (const row of made) {
        const ref = row.source_reference
        const outcome = byId.get(ref.run_id)
        expect(outcome, `${table} ${row.id} names a run of this user`).toBeDefined()
        expect(ref.message_id, `${table} ${row.id}: the message its run answered`).toBe(
          outcome?.run.trigger_message_id,
        )
        const actors = new Set(outcome?.tools.map((step) => step.agent_id))
        expect([...actors], `${table} ${row.id}: an agent that acted in the run`).toContain(ref.agent_id)
      }
    }
  }
}

/** What every run's record says about itself, whatever the scenario. */
function verifyRun({ run, steps, messages, broadcasts }: Outcome, limits: RunLimits): void {
  const what = `run ${run.id} (${run.status})`
  expect(['succeeded', 'failed', 'cancelled'], `${what} ended`).toContain(run.status)
  expect(
    steps.map((step) => step.position),
    `${what}: steps numbered in order`,
  ).toEqual(steps.map((_, index) => index))
  if (run.started_at) expect(steps[0]?.kind, `${what}: the context comes first`).toBe('context')
  else expect(steps, `${what}: no steps before it started`).toEqual([])
  // Each tool call or delegation is stored as a tool message, in the same order. A call that waited
  // for approval keeps its step as proposed (steps are written once); its outcome is the approval's.
  const acted = steps.filter((step) => step.kind === 'tool_call' || step.kind === 'delegation')
  const approvals = new Map(
    (
      (run as { approvals?: Array<{ action_id: string; outcome: { ok?: boolean } | null }> }).approvals ?? []
    ).map((approval) => [approval.action_id, approval.outcome]),
  )
  const erred = (step: Step) =>
    approvals.has(step.id) ? approvals.get(step.id)?.ok !== true : step.error !== null
  const toolMessages = messages.filter((message) => message.role === 'tool')
  expect(
    toolMessages.map((message) => [
      message.metadata.tool_call_id,
      message.agent_id,
      message.metadata.is_error,
    ]),
    `${what}: a tool message per tool step`,
  ).toEqual(acted.map((step) => [step.input.tool_call_id, step.agent_id, erred(step)]))
  // The answer: one for a run that ended with one (succeeded, or cancelled with what it had), none for a failed one.
  const answers = messages.filter((message) => message.role === 'assistant')
  expect(answers.length, `${what}: answers stored`).toBe(run.status === 'failed' ? 0 : 1)
  if (answers[0]) {
    expect(answers[0].agent_id, `${what}: the answer is its agent’s`).toBe(run.agent_id)
    expect(answers[0].metadata.cancelled === true, `${what}: a cancelled run’s answer is marked`).toBe(
      run.status === 'cancelled',
    )
  }
  if (run.status === 'failed') expect(run.error?.code, `${what}: a failed run says why`).toBeTruthy()
  // What subscribers of the conversation's channel saw: the run from its start to its end, in order,
  // its answer's text as tokens, every tool call and result, every delegation.
  const events = broadcasts.map((message) => message.event)
  expect(
    broadcasts.map((message) => message.payload.seq),
    `${what}: broadcasts numbered`,
  ).toEqual(broadcasts.map((_, index) => index))
  expect(
    broadcasts.every((message) => message.topic === `conversation:${run.conversation_id}`),
    `${what}: broadcasts on the conversation’s channel`,
  ).toBe(true)
  // A run that never started (no provider to answer it) says only that it failed.
  expect(events[0], `${what}: run_started first`).toBe(run.started_at ? 'run_started' : 'run_failed')
  expect(events.at(-1), `${what}: the last broadcast ends the run`).toBe(
    run.status === 'failed' ? 'run_failed' : 'run_finished',
  )
  const last = broadcasts.at(-1)?.payload
  if (run.status === 'failed')
    expect(last?.error, `${what}: run_failed has the code`).toMatchObject({ code: run.error?.code })
  else
    expect(last, `${what}: run_finished names the answer`).toMatchObject({
      status: run.status,
      message_id: answers[0]?.id,
    })
  const streamed = broadcasts
    .filter((message) => message.event === 'token')
    .map((message) => message.payload.text)
    .join('')
  if (answers[0]) {
    // The answer is the streamed text, and the note of a run stopped at its limit.
    expect(
      answers[0].content.replace(/(\n\n)?\(Stopped: [^)]*\)$/, ''),
      `${what}: the answer as streamed`,
    ).toBe(streamed)
  }
  // A delegation's call goes out before the specialist works, its step after: compared as sets.
  expect(
    broadcasts
      .filter((message) => message.event === 'tool_call')
      .map((message) => String(message.payload.id))
      .sort(),
    `${what}: a tool_call broadcast per tool step`,
  ).toEqual(acted.map((step) => String(step.input.tool_call_id)).sort())
  expect(
    broadcasts
      .filter((message) => message.event === 'tool_result')
      .map((message) => [message.payload.id, message.payload.ok]),
    `${what}: a tool_result broadcast per tool step`,
  ).toEqual(acted.map((step) => [step.input.tool_call_id, !erred(step)]))
  expect(
    broadcasts.filter((message) => message.event === 'delegated').map((message) => message.payload.to),
    `${what}: a delegated broadcast per delegation that ran`,
  ).toEqual(
    steps.filter((step) => step.kind === 'delegation' && step.error === null).map((step) => step.name),
  )
  // The limits: model calls, and tool calls that ran.
  expect(
    steps.filter((step) => step.kind === 'model_call').length,
    `${what}: model calls within AI_MAX_MODEL_CALLS`,
  ).toBeLessThanOrEqual(limits.maxModelCalls)
  expect(
    acted.filter((step) => step.error?.code !== 'limit_reached').length,
    `${what}: tool calls within AI_MAX_TOOL_CALLS`,
  ).toBeLessThanOrEqual(limits.maxToolCalls)
}

const realFetch = globalThis.fetch

/**
 * Runs broadcast through Realtime's REST API (shared/ai/broadcast.ts); the harness notes each
 * request's messages for the scenario running, then passes it on to the stack's Realtime unchanged.
 */
function listenToBroadcasts(): void {
  if (globalThis.fetch !== realFetch) return
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    if (active && url.endsWith('/realtime/v1/api/broadcast') && typeof init?.body === 'string') {
      active.heard((JSON.parse(init.body) as { messages: Broadcast[] }).messages)
    }
    return realFetch(input, init)
  }) as typeof fetch
}

interface Fakes {
  openai: FakeOpenAI
  anthropic: FakeAnthropic
}

let started: Fakes | undefined
const fakes = (): Fakes => {
  if (!started) throw new Error('the fake providers have not started')
  return started
}

/** The other user, with one row of each kind. */
async function seedVictim(): Promise<Victim> {
  const bob = await createUser('bob')
  const [task] = await sql`
    insert into public.tasks (user_id, title, due_date) values (${bob.id}, 'Bob’s secret task', current_date)
    returning id`
  const [note] = await sql`
    insert into public.notes (user_id, title, content)
    values (${bob.id}, 'Bob’s diary', ${sql.json(blocks(['Dear diary']) as never)}) returning id`
  const [goal] = await sql`
    insert into public.goals (user_id, title, timeframe, progress) values (${bob.id}, 'Bob’s goal', 'yearly', 10)
    returning id`
  const [reflection] = await sql`
    insert into public.reflections (user_id, reflection_type, content) values (${bob.id}, 'daily', 'Bob’s day')
    returning id`
  const [conversation] = await sql`
    insert into public.conversations (user_id, title) values (${bob.id}, 'Bob’s chat') returning id`
  return {
    ...bob,
    task: task.id,
    note: note.id,
    goal: goal.id,
    reflection: reflection.id,
    conversation: conversation.id,
  }
}

export type ScenarioBody = (world: World) => Promise<void>

export interface ScenarioOptions {
  /** Run on these providers only (default: both). */
  providers?: ProviderName[]
  timeout?: number
}

/**
 * A file's scenarios: `scenarios('tasks', (scenario) => { scenario('…', async (world) => …) })`.
 * Each runs once per provider, with a new user and conversation, and ends with `world.verify()`.
 */
export function scenarios(
  title: string,
  define: (scenario: (name: string, body: ScenarioBody, options?: ScenarioOptions) => void) => void,
): void {
  beforeAll(async () => {
    listenToBroadcasts()
    if (started) return
    const [openai, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()])
    started = { openai, anthropic }
    const answer = (provider: ProviderName) => (request: { body: unknown }) => {
      if (!active) return { error: { status: 400, message: 'No scenario is running' } } as FakeReply
      return active.answer(provider, request.body)
    }
    ;(openai as FakeProvider<unknown>).respond(answer('openai'))
    ;(anthropic as FakeProvider<unknown>).respond(answer('anthropic'))
  })
  afterAll(async () => {
    await backgroundSettled()
    setAiConfigForTests(undefined)
    setRunLimitsForTests(undefined)
  })

  describe.each(['openai', 'anthropic'] as const)(`${title} (%s)`, (provider) => {
    let bob: Victim
    beforeAll(async () => {
      bob = await seedVictim()
    })
    define((name, body, options = {}) => {
      if (options.providers && !options.providers.includes(provider)) return
      it(
        name,
        async () => {
          const world = await World.create(provider, bob, fakes())
          active = world
          try {
            await body(world)
            await world.verify()
          } finally {
            await backgroundSettled()
            active = undefined
            setAiConfigForTests(undefined)
            setRunLimitsForTests(undefined)
          }
        },
        options.timeout,
      )
    })
  })
}

/** Closes what the file opened (the fakes, the connections), after its last scenario. */
afterAll(async () => {
  await backgroundSettled()
  if (started) await Promise.all([started.openai.close(), started.anthropic.close()])
  started = undefined
  globalThis.fetch = realFetch
  await sql.end()
  await closeSql()
})
