import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { app } from '../../functions/ai/app.ts'
import { app as usersApp } from '../../functions/users/app.ts'
import { backgroundSettled } from '../../shared/ai/engine.ts'
import { setRunLimitsForTests } from '../../shared/ai/limits.ts'
import { setAiConfigForTests } from '../../shared/config.ts'
import { closeSql } from '../../shared/db/client.ts'
import { useProviders } from '../helpers/ai.ts'
import { expectJson } from '../helpers/domain.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { type FakeAnthropic, startFakeAnthropic } from '../helpers/fake-anthropic.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import type { FakeProvider, FakeReply } from '../helpers/fake-provider.ts'
import { adminSql, createUser, type TestUser } from '../helpers/stack.ts'

// Approval before an agent's change (ADR 0030), in process against the real database and the real
// SDKs talking to the fake providers: a call the user's policy holds back pauses the run with its
// state in Postgres, `POST ai/runs/{id}/approval` resumes it, approved changes are made and refused
// ones go back to the model; bad decisions change nothing, a wait expires.

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
beforeEach(() => setRunLimitsForTests({ runsPerMinute: 0 }))
afterEach(async () => {
  await backgroundSettled()
  setAiConfigForTests(undefined)
  setRunLimitsForTests(undefined)
})

interface Approval {
  action_id: string
  tool: string
  agent_id: string
  arguments: Record<string, unknown>
  reason: string
  summary: string
  change: {
    operation: string
    table: string
    count: number
    rows: Array<{ id: string | null; title: string | null }>
    fields?: Record<string, unknown>
  }
  decision: string | null
  note: string | null
  decided_at: string | null
  outcome: Record<string, unknown> | null
}
interface Run {
  id: string
  conversation_id: string
  agent_id: string
  status: string
  error: { code: string; message: string } | null
  steps: Array<{ id?: string; position: number; kind: string; name: string; input: Record<string, unknown> }>
  approvals: Approval[]
  approval_expires_at: string | null
}

const call = (user: TestUser, method: string, path: string, body?: unknown) =>
  app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${user.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })

async function conversation(user: TestUser): Promise<string> {
  const [{ id }] = await sql`insert into public.conversations (user_id) values (${user.id}) returning id`
  return id
}

const runOf = async (user: TestUser, id: string) =>
  expectJson<Run>(await call(user, 'GET', `/ai/runs/${id}`), 200)

/** Starts a run and waits until its work has ended (finished, failed or paused). */
async function ask(user: TestUser, content: string, agentId?: string): Promise<Run> {
  const conversationId = await conversation(user)
  const started = await expectJson<Run>(
    await call(user, 'POST', '/ai/runs', { conversation_id: conversationId, agent_id: agentId, content }),
    202,
  )
  await backgroundSettled()
  return runOf(user, started.id)
}

const decide = (user: TestUser, runId: string, decisions: unknown) =>
  call(user, 'POST', `/ai/runs/${runId}/approval`, { decisions })

const setPolicy = (user: TestUser, approval: string) =>
  sql`update public.profiles set preferences = ${sql.json({ ai: { approval } })} where id = ${user.id}`

const taskRows = (user: TestUser) =>
  sql`select id, title, status, due_date::text as due_date from public.tasks where user_id = ${user.id} order by title`

const addTasks = async (user: TestUser, titles: string[], due: string | null = null) =>
  sql<{ id: string; title: string }[]>`
    insert into public.tasks ${sql(titles.map((title) => ({ user_id: user.id, title, due_date: due })))}
    returning id, title`

const pauseOf = async (runId: string) =>
  (await sql`select state from public.agent_run_pauses where run_id = ${runId}`)[0]?.state

const today = () => new Date().toISOString().slice(0, 10)
const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)

interface Case {
  provider: 'openai' | 'anthropic'
  fake: () => FakeProvider<unknown>
  configure: (overrides?: Record<string, unknown>) => void
  /** The tool results and the system prompt the nth request carried. */
  received: (index: number) => { system: string; toolResults: string[] }
}

const cases: Case[] = [
  {
    provider: 'openai',
    fake: () => openai as FakeProvider<unknown>,
    configure: (overrides = {}) =>
      useProviders({ openai }, { defaultModel: 'openai:gpt-test', ...overrides }),
    received: (index) => {
      const { body } = openai.requests[index]
      return {
        system: String(body.messages.find((m) => m.role === 'system' || m.role === 'developer')?.content),
        toolResults: body.messages.filter((m) => m.role === 'tool').map((m) => String(m.content)),
      }
    },
  },
  {
    provider: 'anthropic',
    fake: () => anthropic as FakeProvider<unknown>,
    configure: (overrides = {}) =>
      useProviders({ anthropic }, { defaultModel: 'anthropic:claude-test', ...overrides }),
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
      return { system, toolResults }
    },
  },
]

describe.each(cases)('approval with $provider', ({ fake, configure, received }) => {
  const reply = (...replies: FakeReply[]) => fake().reply(...replies)
  const last = () => received(fake().requests.length - 1)

  it('pauses a delete under the default policy with its state in Postgres, and resumes it when approved', async () => {
    configure()
    const ada = await createUser('ada')
    const [task] = await addTasks(ada, ['File taxes'])
    await sql`insert into public.tasks (user_id, parent_id, title) values (${ada.id}, ${task.id}, 'Find receipts')`
    reply({ text: 'Deleting it. ', toolCalls: [{ name: 'delete_task', args: { id: task.id } }] })
    const paused = await ask(ada, 'Delete my taxes task', 'task_manager')

    expect(paused.status).toBe('awaiting_approval')
    expect(paused.approval_expires_at).not.toBeNull()
    expect(paused.approvals).toHaveLength(1)
    const [action] = paused.approvals
    expect(action).toMatchObject({
      tool: 'delete_task',
      agent_id: 'task_manager',
      arguments: { id: task.id },
      reason: 'delete',
      summary: 'Delete the task “File taxes” and its 1 subtask',
      change: { operation: 'delete', table: 'tasks', count: 2 },
      decision: null,
    })
    expect(action.change.rows.map((row) => row.title)).toEqual(['File taxes', 'Find receipts'])
    // The action is the tool-call step that proposes it.
    const [step] =
      await sql`select id, kind, name, input from public.agent_run_steps where id = ${action.action_id}`
    expect(step).toMatchObject({ kind: 'tool_call', name: 'delete_task', input: { awaiting_approval: true } })
    expect(await pauseOf(paused.id)).toMatchObject({ version: 1, answer: 'Deleting it. ' })
    expect(await taskRows(ada)).toHaveLength(2)

    reply({ text: 'Done: deleted.' })
    const resumed = await expectJson<Run>(
      await decide(ada, paused.id, [{ action_id: action.action_id, approve: true }]),
      202,
    )
    expect(resumed.status).toBe('running')
    await backgroundSettled()

    const done = await runOf(ada, paused.id)
    expect(done.status).toBe('succeeded')
    expect(done.approvals[0]).toMatchObject({ decision: 'approved', outcome: { ok: true } })
    expect(await taskRows(ada)).toEqual([])
    expect(await pauseOf(paused.id)).toBeUndefined()
    // The model read the delete's result as data, after its own call.
    expect(last().toolResults.at(-1)).toMatch(/^<tool_result tool="delete_task">/)
    const [answer] = await sql`
      select content from public.messages where conversation_id = ${paused.conversation_id} and role = 'assistant'`
    expect(answer.content).toBe('Deleting it. \n\nDone: deleted.')
    // The step of the proposal is not recorded twice.
    expect(done.steps.filter((s) => s.kind === 'tool_call').map((s) => s.name)).toEqual(['delete_task'])

    // A second decision is a conflict, and changes nothing.
    await expectErrorEnvelope(
      await decide(ada, paused.id, [{ action_id: action.action_id, approve: false }]),
      409,
      'conflict',
    )
    expect((await runOf(ada, paused.id)).approvals[0].decision).toBe('approved')
  })

  it('hands a refusal back to the model with the user’s note; nothing is deleted', async () => {
    configure()
    const ada = await createUser('ada')
    const [goal] = await sql`
      insert into public.goals (user_id, title, timeframe) values (${ada.id}, 'Run a marathon', 'yearly') returning id`
    reply({ toolCalls: [{ name: 'delete_goal', args: { id: goal.id } }] })
    const paused = await ask(ada, 'Drop my marathon goal', 'goal_coach')
    expect(paused.approvals[0]).toMatchObject({
      reason: 'delete',
      summary: 'Delete the goal “Run a marathon”',
    })

    reply({ text: 'Kept it.' })
    await expectJson(
      await decide(ada, paused.id, [
        { action_id: paused.approvals[0].action_id, approve: false, note: 'I still want to run it' },
      ]),
      202,
    )
    await backgroundSettled()
    const done = await runOf(ada, paused.id)
    expect(done.status).toBe('succeeded')
    expect(done.approvals[0]).toMatchObject({
      decision: 'refused',
      note: 'I still want to run it',
      outcome: { ok: false, error: { code: 'refused' } },
    })
    expect(last().toolResults.at(-1)).toContain('refused')
    expect(last().toolResults.at(-1)).toContain('I still want to run it')
    expect(await sql`select id from public.goals where id = ${goal.id}`).toHaveLength(1)
  })
})

describe('approval policy', () => {
  const reply = (...replies: FakeReply[]) => openai.reply(...replies)
  const configure = (overrides: Record<string, unknown> = {}) =>
    useProviders({ openai }, { defaultModel: 'openai:gpt-test', ...overrides })
  const lastRequest = () => openai.requests[openai.requests.length - 1].body

  it('validates ai.approval in the preferences: 422 and nothing stored for a bad value', async () => {
    const ada = await createUser('ada')
    const put = (body: unknown) =>
      usersApp.request('/users/preferences', {
        method: 'PUT',
        headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    for (const approval of ['never', 'destructive', 'always']) {
      expect(await (await put({ theme: 'dark', ai: { approval } })).json()).toEqual({
        theme: 'dark',
        ai: { approval },
      })
    }
    for (const bad of [{ ai: { approval: 'sometimes' } }, { ai: { approval: true } }, { ai: 'always' }]) {
      const error = await expectErrorEnvelope(await put(bad), 422, 'validation_failed')
      expect(error.details?.[0].path).toMatch(/^ai/)
    }
    const [row] = await sql`select preferences from public.profiles where id = ${ada.id}`
    expect(row.preferences).toEqual({ theme: 'dark', ai: { approval: 'always' } })
  })

  it('moves everything due today to tomorrow: a bulk change of more than 10 waits, and covers exactly the rows shown', async () => {
    configure()
    const ada = await createUser('ada')
    const due = await addTasks(
      ada,
      Array.from({ length: 12 }, (_, i) => `Today ${String(i).padStart(2, '0')}`),
      today(),
    )
    await addTasks(ada, ['Later'], tomorrow())
    reply({
      toolCalls: [
        { name: 'update_tasks', args: { filter: { due_date: today() }, changes: { due_date: tomorrow() } } },
      ],
    })
    const paused = await ask(ada, 'Move everything due today to tomorrow', 'task_manager')
    expect(paused.status).toBe('awaiting_approval')
    const [action] = paused.approvals
    expect(action).toMatchObject({
      tool: 'update_tasks',
      reason: 'bulk',
      summary: `Change 12 tasks: due date ${tomorrow()}`,
      change: { operation: 'update', table: 'tasks', count: 12, fields: { due_date: tomorrow() } },
    })
    expect(action.change.rows.map((row) => row.id).sort()).toEqual(due.map((task) => task.id).sort())

    // A task added after the proposal is not part of what the user approves.
    const [late] = await addTasks(ada, ['Added meanwhile'], today())
    reply({ text: 'Moved 12 tasks.' })
    await expectJson(await decide(ada, paused.id, [{ action_id: action.action_id, approve: true }]), 202)
    await backgroundSettled()
    expect((await runOf(ada, paused.id)).status).toBe('succeeded')
    const rows = await taskRows(ada)
    expect(rows.filter((row) => row.due_date === tomorrow())).toHaveLength(13)
    expect(rows.find((row) => row.id === late.id)?.due_date).toBe(today())
  })

  it('runs a bulk change of at most 10 rows and single changes at once under destructive', async () => {
    configure()
    const ada = await createUser('ada')
    await addTasks(ada, ['One', 'Two', 'Three'], today())
    reply(
      {
        toolCalls: [
          { name: 'complete_tasks', args: { filter: { due_date: today() } } },
          { name: 'create_task', args: { title: 'Celebrate' } },
        ],
      },
      { text: 'All done.' },
    )
    const run = await ask(ada, 'Mark today’s tasks done', 'task_manager')
    expect(run.status).toBe('succeeded')
    expect(run.approvals).toEqual([])
    expect((await taskRows(ada)).map((row) => [row.title, row.status])).toEqual([
      ['Celebrate', 'todo'],
      ['One', 'done'],
      ['Three', 'done'],
      ['Two', 'done'],
    ])
  })

  it('under always, every change waits (write); under never, even a delete runs at once', async () => {
    configure()
    const ada = await createUser('ada')
    await setPolicy(ada, 'always')
    reply({
      toolCalls: [
        { name: 'list_tasks', args: {} },
        { name: 'create_task', args: { title: 'Call mum' } },
      ],
    })
    const paused = await ask(ada, 'Remind me to call mum', 'task_manager')
    expect(paused.status).toBe('awaiting_approval')
    // The read ran; only the write waits.
    expect(
      paused.steps.filter((s) => s.kind === 'tool_call').map((s) => [s.name, s.input.awaiting_approval]),
    ).toEqual([
      ['list_tasks', undefined],
      ['create_task', true],
    ])
    expect(paused.approvals[0]).toMatchObject({
      reason: 'write',
      summary: 'Create the task “Call mum”',
      change: { operation: 'create', count: 1, rows: [{ id: null, title: 'Call mum' }] },
    })
    reply({ text: 'Added.' })
    await expectJson(
      await decide(ada, paused.id, [{ action_id: paused.approvals[0].action_id, approve: true }]),
      202,
    )
    await backgroundSettled()
    const [task] = await sql`select source, source_reference from public.tasks where user_id = ${ada.id}`
    expect(task).toMatchObject({
      source: 'agent',
      source_reference: { run_id: paused.id, agent_id: 'task_manager' },
    })

    const bob = await createUser('bob')
    await setPolicy(bob, 'never')
    const [doomed] = await addTasks(bob, ['Old chore'])
    reply({ toolCalls: [{ name: 'delete_task', args: { id: doomed.id } }] }, { text: 'Deleted.' })
    const run = await ask(bob, 'Delete the old chore', 'task_manager')
    expect(run.status).toBe('succeeded')
    expect(run.approvals).toEqual([])
    expect(await taskRows(bob)).toEqual([])
  })

  it('pauses a specialist’s delete inside a delegation and resumes both agents where they stopped', async () => {
    configure()
    const ada = await createUser('ada')
    const [task] = await addTasks(ada, ['Stale idea'])
    reply(
      { toolCalls: [{ name: 'delegate', args: { agent_id: 'task_manager', task: 'Delete “Stale idea”' } }] },
      { text: 'Deleting. ', toolCalls: [{ name: 'delete_task', args: { id: task.id } }] },
    )
    const paused = await ask(ada, 'Get rid of the stale idea')
    expect(paused).toMatchObject({ agent_id: 'coordinator', status: 'awaiting_approval' })
    expect(paused.approvals[0]).toMatchObject({ tool: 'delete_task', agent_id: 'task_manager' })
    const state = (await pauseOf(paused.id)) as { frames: Array<{ agent_id: string }> }
    expect(state.frames.map((frame) => frame.agent_id)).toEqual(['coordinator', 'task_manager'])

    reply({ text: 'It is gone.' }, { text: 'The task manager deleted it.' })
    await expectJson(
      await decide(ada, paused.id, [{ action_id: paused.approvals[0].action_id, approve: true }]),
      202,
    )
    await backgroundSettled()
    const done = await runOf(ada, paused.id)
    expect(done.status).toBe('succeeded')
    expect(await taskRows(ada)).toEqual([])
    // The coordinator got the specialist's whole answer as the delegation's result.
    const delegation = lastRequest()
      .messages.filter((m) => m.role === 'tool')
      .at(-1)
    expect(String(delegation?.content)).toContain('Deleting. \\n\\nIt is gone.')
    expect(done.steps.map((s) => [s.kind, s.name])).toEqual([
      ['context', 'context'],
      ['model_call', 'openai:gpt-test'],
      ['model_call', 'openai:gpt-test'],
      ['tool_call', 'delete_task'],
      ['model_call', 'openai:gpt-test'],
      ['delegation', 'task_manager'],
      ['model_call', 'openai:gpt-test'],
    ])
    const [answer] = await sql`
      select content from public.messages where conversation_id = ${paused.conversation_id} and role = 'assistant'`
    expect(answer.content).toBe('The task manager deleted it.')
  })

  it('refuses bad decisions with 4xx and changes nothing; another user’s run is a 404', async () => {
    configure()
    const ada = await createUser('ada')
    const bob = await createUser('bob')
    const tasks = await addTasks(ada, ['A', 'B'])
    reply({ toolCalls: tasks.map((task) => ({ name: 'delete_task', args: { id: task.id } })) })
    const paused = await ask(ada, 'Delete A and B', 'task_manager')
    const [first, second] = paused.approvals.map((approval) => approval.action_id)
    expect(paused.approvals.map((a) => a.summary)).toEqual(['Delete the task “A”', 'Delete the task “B”'])

    const before =
      await sql`select * from public.agent_run_approvals where run_id = ${paused.id} order by position`
    const missing = await expectErrorEnvelope(
      await decide(ada, paused.id, [{ action_id: first, approve: true }]),
      422,
      'validation_failed',
    )
    expect(missing.details?.[0].message).toContain(second)
    const unknown = await expectErrorEnvelope(
      await decide(ada, paused.id, [
        { action_id: first, approve: true },
        { action_id: second, approve: true },
        { action_id: crypto.randomUUID(), approve: true },
      ]),
      422,
      'validation_failed',
    )
    expect(unknown.details?.map((d) => d.path)).toEqual(['decisions.2.action_id'])
    await expectErrorEnvelope(
      await decide(ada, paused.id, [
        { action_id: first, approve: true },
        { action_id: first, approve: false },
      ]),
      422,
      'validation_failed',
    )
    await expectErrorEnvelope(await decide(ada, paused.id, []), 422, 'validation_failed')
    await expectErrorEnvelope(
      await decide(ada, paused.id, [{ action_id: first, approve: 'yes' }]),
      422,
      'validation_failed',
    )
    // Bob cannot approve Ada's run, even with the right ids.
    await expectErrorEnvelope(
      await decide(bob, paused.id, [
        { action_id: first, approve: true },
        { action_id: second, approve: true },
      ]),
      404,
      'not_found',
    )
    expect(
      await sql`select * from public.agent_run_approvals where run_id = ${paused.id} order by position`,
    ).toEqual(before)
    expect((await runOf(ada, paused.id)).status).toBe('awaiting_approval')
    expect(await taskRows(ada)).toHaveLength(2)

    // Resuming takes one of the user's runs at once: none free is a 429, and nothing changes.
    const [{ id: other }] = await sql`
      insert into public.conversations (user_id) values (${ada.id}) returning id`
    await sql`
      insert into public.agent_runs (user_id, conversation_id, agent_id)
      values (${ada.id}, ${other}, 'coordinator'), (${ada.id}, ${other}, 'coordinator')`
    const busy = await decide(ada, paused.id, [
      { action_id: first, approve: true },
      { action_id: second, approve: false },
    ])
    await expectErrorEnvelope(busy, 429, 'rate_limited')
    expect(busy.headers.get('retry-after')).toBe('5')
    expect(
      await sql`select * from public.agent_run_approvals where run_id = ${paused.id} order by position`,
    ).toEqual(before)
    await sql`update public.agent_runs set status = 'cancelled', finished_at = now() where conversation_id = ${other}`

    reply({ text: 'Deleted A, kept B.' })
    await expectJson(
      await decide(ada, paused.id, [
        { action_id: first, approve: true },
        { action_id: second, approve: false },
      ]),
      202,
    )
    await backgroundSettled()
    expect((await taskRows(ada)).map((row) => row.title)).toEqual(['B'])
  })

  it('takes one of two decisions sent at once; the other is a 409', async () => {
    configure()
    const ada = await createUser('ada')
    const [task] = await addTasks(ada, ['Contested'])
    reply({ toolCalls: [{ name: 'delete_task', args: { id: task.id } }] })
    const paused = await ask(ada, 'Delete it', 'task_manager')
    const actionId = paused.approvals[0].action_id
    reply({ text: 'Done.' })
    const answers = await Promise.all([
      decide(ada, paused.id, [{ action_id: actionId, approve: true }]),
      decide(ada, paused.id, [{ action_id: actionId, approve: false }]),
    ])
    expect(answers.map((answer) => answer.status).sort()).toEqual([202, 409])
    const winner = answers[0].status === 202 ? 'approved' : 'refused'
    await backgroundSettled()
    const done = await runOf(ada, paused.id)
    expect(done.status).toBe('succeeded')
    expect(done.approvals[0].decision).toBe(winner)
    expect(await taskRows(ada)).toHaveLength(winner === 'approved' ? 0 : 1)
  })

  it('does not count a waiting run among the user’s runs at once', async () => {
    configure()
    setRunLimitsForTests({ runsPerMinute: 0, maxActiveRuns: 1 })
    const ada = await createUser('ada')
    const [task] = await addTasks(ada, ['Keep me'])
    reply({ toolCalls: [{ name: 'delete_task', args: { id: task.id } }] })
    const paused = await ask(ada, 'Delete it', 'task_manager')
    expect(paused.status).toBe('awaiting_approval')
    reply({ text: 'Hello again.' })
    const next = await ask(ada, 'Something else meanwhile')
    expect(next.status).toBe('succeeded')
  })

  it('expires a run left waiting longer than AI_APPROVAL_TTL_SECONDS: cancelled, and nothing it proposed runs', async () => {
    configure({ approvalTtlSeconds: 3600 })
    const ada = await createUser('ada')
    const [task] = await addTasks(ada, ['Survivor'])
    reply({ toolCalls: [{ name: 'delete_task', args: { id: task.id } }] })
    const paused = await ask(ada, 'Delete it', 'task_manager')
    const expiresAt = Date.parse(paused.approval_expires_at as string)
    expect(expiresAt - Date.now()).toBeGreaterThan(3500_000)
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(3600_000)

    await sql`update public.agent_run_pauses set created_at = now() - interval '2 hours' where run_id = ${paused.id}`
    const expired = await expectErrorEnvelope(
      await decide(ada, paused.id, [{ action_id: paused.approvals[0].action_id, approve: true }]),
      409,
      'conflict',
    )
    expect(expired.message).toContain('approval_expired')
    const run = await runOf(ada, paused.id)
    expect(run).toMatchObject({
      status: 'cancelled',
      error: { code: 'approval_expired' },
      approval_expires_at: null,
    })
    expect(run.approvals[0].decision).toBeNull()
    expect(await pauseOf(paused.id)).toBeUndefined()
    expect(await taskRows(ada)).toHaveLength(1)

    // Found stale by reading it, too.
    reply({ toolCalls: [{ name: 'delete_task', args: { id: task.id } }] })
    const again = await ask(ada, 'Delete it after all', 'task_manager')
    await sql`update public.agent_run_pauses set created_at = now() - interval '2 hours' where run_id = ${again.id}`
    expect(await runOf(ada, again.id)).toMatchObject({
      status: 'cancelled',
      error: { code: 'approval_expired' },
    })
  })

  it('cancels a waiting run: its state is dropped and an approval after it is a 409', async () => {
    configure()
    const ada = await createUser('ada')
    const [task] = await addTasks(ada, ['Maybe'])
    reply({ toolCalls: [{ name: 'delete_task', args: { id: task.id } }] })
    const paused = await ask(ada, 'Delete it', 'task_manager')
    const cancelled = await expectJson<Run>(await call(ada, 'POST', `/ai/runs/${paused.id}/cancel`), 200)
    expect(cancelled.status).toBe('cancelled')
    expect(await pauseOf(paused.id)).toBeUndefined()
    await expectErrorEnvelope(
      await decide(ada, paused.id, [{ action_id: paused.approvals[0].action_id, approve: true }]),
      409,
      'conflict',
    )
    expect(await taskRows(ada)).toHaveLength(1)
  })

  it('ends a UI message stream with the approval it waits for', async () => {
    configure()
    const ada = await createUser('ada')
    const [task] = await addTasks(ada, ['Streamed'])
    reply({ toolCalls: [{ name: 'delete_task', args: { id: task.id } }] })
    const response = await app.request('/ai/runs', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${ada.token}`,
        'content-type': 'application/json',
        accept: 'text/event-stream',
      },
      body: JSON.stringify({
        conversation_id: await conversation(ada),
        agent_id: 'task_manager',
        content: 'Delete',
      }),
    })
    const events = (await response.text())
      .split('\n')
      .filter((line) => line.startsWith('data: {'))
      .map((line) => JSON.parse(line.slice(6)))
    const approval = events.find((event) => event.type === 'data-approval_required')
    expect(approval.data.actions).toEqual([
      expect.objectContaining({
        tool: 'delete_task',
        summary: 'Delete the task “Streamed”',
        reason: 'delete',
      }),
    ])
    expect(events.at(-1)).toMatchObject({ type: 'finish', messageMetadata: { status: 'awaiting_approval' } })
    const runId = response.headers.get('x-run-id') as string
    expect((await runOf(ada, runId)).status).toBe('awaiting_approval')
  })
})
