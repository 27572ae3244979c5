import { afterAll, afterEach, beforeAll, beforeEach, describe, expect } from 'vitest'
import { app as ai } from '../../functions/ai/app.ts'
import { app as notes } from '../../functions/notes/app.ts'
import { app as tasks } from '../../functions/tasks/app.ts'
import { backgroundSettled } from '../../shared/ai/engine.ts'
import { setRunLimitsForTests } from '../../shared/ai/limits.ts'
import { setAiConfigForTests } from '../../shared/config.ts'
import { agentContext } from '../../shared/core/context.ts'
import { closeSql } from '../../shared/db/client.ts'
import { createTask } from '../../shared/tasks/service.ts'
import { useProviders } from '../helpers/ai.ts'
import { checkItem, expectJson, inProcess, paragraph } from '../helpers/domain.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import type { FakeReply } from '../helpers/fake-provider.ts'
import { it } from '../helpers/fixtures.ts'
import type { TestUser } from '../helpers/stack.ts'

// The trace of a run and its undo, in process against the real database, with real runs: the real
// LangChain models over the real OpenAI SDK talking to the fake provider, whose scripted tool calls
// run the verbs as the agent. Every change is checked in the database afterwards.

interface Action {
  id: string
  step_id: string | null
  table_name: string
  row_id: string
  operation: 'insert' | 'update' | 'delete'
  before: Record<string, unknown> | null
  after: Record<string, unknown> | null
  undone_at: string | null
}
interface Run {
  id: string
  status: string
  updated_at: string
  undone_at: string | null
  steps: Array<{ id: string; kind: string; name: string }>
  actions: Action[]
}
interface UndoResult {
  run: Omit<Run, 'steps' | 'actions'>
  reverted: Action[]
  skipped: Array<{ action_id: string; table_name: string; row_id: string; operation: string; reason: string }>
  already_undone: boolean
}

let openai: FakeOpenAI
const { api } = inProcess({ ai, notes, tasks }, 'ai')

beforeAll(async () => {
  openai = await startFakeOpenAI()
})
beforeEach(() => {
  useProviders({ openai }, { defaultModel: 'openai:gpt-test' })
  // These tests start many runs a minute; the limits have tests of their own.
  setRunLimitsForTests({ runsPerMinute: 0 })
})
afterEach(async () => {
  await backgroundSettled()
  setAiConfigForTests(undefined)
  setRunLimitsForTests(undefined)
})
afterAll(async () => {
  await backgroundSettled()
  await openai.close()
  await closeSql()
})

const json = async <T>(response: Promise<Response>, status: number) => expectJson<T>(await response, status)

const createTaskAs = (user: TestUser, title: string) =>
  json<{ id: string; updated_at: string }>(api('POST', '/tasks', { user, body: { title } }), 201)

const getRun = (user: TestUser, id: string) => json<Run>(api('GET', `/ai/runs/${id}`, { user }), 200)

const undo = (user: TestUser, id: string, body?: unknown, headers: Record<string, string> = {}) =>
  api('POST', `/ai/runs/${id}/undo`, { user, body, headers })

type Sql = import('postgres').Sql

const conversationOf = async (sql: Sql, user: TestUser): Promise<string> =>
  (await sql`insert into public.conversations (user_id) values (${user.id}) returning id`)[0].id

/** A real run of an agent: the fake model answers with these replies, in turn; the run must succeed. */
async function agentRun(sql: Sql, user: TestUser, agentId: string, ...replies: FakeReply[]): Promise<Run> {
  // The agent changes without asking (ai.approval never): undo is under test here, approval elsewhere.
  await sql`
    update public.profiles set preferences = coalesce(preferences, '{}') || '{"ai": {"approval": "never"}}'
    where id = ${user.id}`
  openai.reply(...replies)
  const started = await json<{ id: string }>(
    api('POST', '/ai/runs', {
      user,
      body: { conversation_id: await conversationOf(sql, user), agent_id: agentId, content: 'Please do it' },
    }),
    202,
  )
  await backgroundSettled()
  const run = await getRun(user, started.id)
  expect(run.status).toBe('succeeded')
  return run
}

describe('the trace of a run, and its undo', () => {
  it('records every change under its tool call; a user’s own edit is not traced', async ({ sql, ada }) => {
    const kept = await createTaskAs(ada, 'Old title')
    const doomed = await createTaskAs(ada, 'Cancel the gym')
    const own = await createTaskAs(ada, 'My own')
    const run = await agentRun(
      sql,
      ada,
      'task_manager',
      { toolCalls: [{ name: 'create_task', args: { title: 'Buy milk', priority: 'high' } }] },
      {
        toolCalls: [
          { name: 'update_task', args: { id: kept.id, changes: { title: 'New title' } } },
          { name: 'delete_task', args: { id: doomed.id } },
        ],
      },
      { text: 'Done.' },
    )
    const [milk] = await sql`select id from public.tasks where user_id = ${ada.id} and title = 'Buy milk'`
    const toolSteps = run.steps.filter((step) => step.kind === 'tool_call')
    expect(run.actions.map((a) => [a.table_name, a.row_id, a.operation, a.step_id])).toEqual([
      ['tasks', milk.id, 'insert', toolSteps[0].id],
      ['tasks', kept.id, 'update', toolSteps[1].id],
      ['tasks', doomed.id, 'delete', toolSteps[2].id],
    ])
    expect(run.actions[1].before).toMatchObject({ title: 'Old title' })
    expect(run.actions[1].after).toMatchObject({ title: 'New title' })
    expect(run.actions[2]).toMatchObject({ after: null, before: { id: doomed.id, title: 'Cancel the gym' } })

    // The user's own edit, after the run, is not traced.
    await json(api('PUT', `/tasks/${own.id}`, { user: ada, body: { title: 'Mine, renamed' } }), 200)
    const [{ n }] =
      await sql`select count(*)::int as n from public.agent_run_actions where user_id = ${ada.id}`
    expect(n).toBe(3)
  })

  it('undoes a run newest first: created rows deleted, updated restored, deleted recreated with their ids; twice is a no-op', async ({
    sql,
    ada,
  }) => {
    const kept = await createTaskAs(ada, 'Water plants')
    const doomed = await createTaskAs(ada, 'Old errand')
    const [doomedRow] = await sql`select * from public.tasks where id = ${doomed.id}`
    const run = await agentRun(
      sql,
      ada,
      'task_manager',
      {
        toolCalls: [
          { name: 'create_task', args: { title: 'Fresh task' } },
          { name: 'complete_task', args: { id: kept.id } },
          { name: 'delete_task', args: { id: doomed.id } },
        ],
      },
      { text: 'Done.' },
    )
    const response = await undo(ada, run.id, undefined, { 'if-match': `"${run.updated_at}"` })
    const result = await expectJson<UndoResult>(response, 200)
    expect(result.already_undone).toBe(false)
    expect(result.skipped).toEqual([])
    expect(result.reverted.map((a) => [a.operation, a.row_id])).toEqual([
      ['delete', doomed.id],
      ['update', kept.id],
      ['insert', run.actions[0].row_id],
    ])
    expect(result.run.undone_at).toEqual(expect.any(String))

    const [restored] = await sql`select * from public.tasks where id = ${doomed.id}`
    expect(restored).toEqual(doomedRow)
    const [back] = await sql`select status, completed_at from public.tasks where id = ${kept.id}`
    expect(back).toEqual({ status: 'todo', completed_at: null })
    expect(await sql`select 1 from public.tasks where id = ${run.actions[0].row_id}`).toHaveLength(0)

    const after = await getRun(ada, run.id)
    expect(after.undone_at).toBe(result.run.undone_at)
    expect(after.actions.every((action) => action.undone_at !== null)).toBe(true)
    // The undo is not traced itself.
    expect(after.actions).toHaveLength(3)

    // Undoing again: 200, nothing to undo, nothing changed.
    const before =
      await sql`select id, title, status, updated_at from public.tasks where user_id = ${ada.id} order by id`
    const again = await json<UndoResult>(undo(ada, run.id, { force: true }), 200)
    expect(again).toMatchObject({ already_undone: true, reverted: [], skipped: [] })
    expect(again.run.undone_at).toBe(result.run.undone_at)
    expect(
      await sql`select id, title, status, updated_at from public.tasks where user_id = ${ada.id} order by id`,
    ).toEqual(before)
  })

  it('refuses with 409 and the blocking rows when the user or another run changed a row since; force skips them', async ({
    sql,
    ada,
  }) => {
    const first = await agentRun(
      sql,
      ada,
      'task_manager',
      {
        toolCalls: [
          { name: 'create_task', args: { title: 'Edited by the user later' } },
          { name: 'create_task', args: { title: 'Changed by a later run' } },
          { name: 'create_task', args: { title: 'Untouched' } },
        ],
      },
      { text: 'Three tasks.' },
    )
    const [edited, laterRun, untouched] = first.actions.map((action) => action.row_id)
    await json(api('PUT', `/tasks/${edited}`, { user: ada, body: { priority: 'urgent' } }), 200)
    await agentRun(
      sql,
      ada,
      'task_manager',
      { toolCalls: [{ name: 'update_task', args: { id: laterRun, changes: { due_date: '2030-01-01' } } }] },
      { text: 'Due in 2030.' },
    )
    const snapshot = () =>
      sql`select id, title, priority, due_date, updated_at from public.tasks where user_id = ${ada.id} order by id`
    const before = await snapshot()

    const error = await expectErrorEnvelope(await undo(ada, first.id, {}), 409, 'conflict')
    expect(error.message).toMatch(/force/)
    expect(error.details).toEqual([
      { path: `tasks/${laterRun}`, message: expect.stringMatching(/changed after the run created it/) },
      { path: `tasks/${edited}`, message: expect.stringMatching(/changed after the run created it/) },
    ])
    // Nothing changed, and the run is not marked.
    expect(await snapshot()).toEqual(before)
    expect((await getRun(ada, first.id)).undone_at).toBeNull()

    const forced = await json<UndoResult>(undo(ada, first.id, { force: true }), 200)
    expect(forced.reverted.map((a) => a.row_id)).toEqual([untouched])
    expect(forced.skipped.map((s) => [s.table_name, s.row_id, s.operation])).toEqual([
      ['tasks', laterRun, 'insert'],
      ['tasks', edited, 'insert'],
    ])
    const left =
      await sql`select id, priority, due_date::text from public.tasks where id in ${sql([edited, laterRun, untouched])} order by title`
    expect(left).toEqual([
      { id: laterRun, priority: 'medium', due_date: '2030-01-01' },
      { id: edited, priority: 'urgent', due_date: null },
    ])
    const run = await getRun(ada, first.id)
    expect(run.undone_at).not.toBeNull()
    expect(run.actions.map((a) => a.undone_at !== null)).toEqual([false, false, true])
  })

  it('brings back a deleted note with its id, its content and its checklist tasks', async ({ sql, ada }) => {
    const note = await json<{ id: string }>(
      api('POST', '/notes', {
        user: ada,
        body: {
          title: 'Trip',
          content: [paragraph('p1', 'Pack light'), checkItem('k1', 'Passport'), checkItem('k2', 'Tickets')],
        },
      }),
      201,
    )
    const checklist = await sql`select id from public.tasks where note_id = ${note.id} order by created_at`
    expect(checklist).toHaveLength(2)
    await json(api('PUT', `/tasks/${checklist[0].id}/status`, { user: ada, body: { status: 'done' } }), 200)
    const listTasks = () =>
      json<{ data: Array<{ id: string; status: string }> }>(
        api('GET', `/notes/${note.id}/tasks`, { user: ada }),
        200,
      )
    const listedBefore = await listTasks()
    expect(listedBefore.data.map((task) => task.status).sort()).toEqual(['done', 'todo'])
    const noteBefore = await sql`select * from public.notes where id = ${note.id}`
    const tasksBefore = await sql`select * from public.tasks where note_id = ${note.id} order by id`

    const run = await agentRun(
      sql,
      ada,
      'knowledge',
      { toolCalls: [{ name: 'delete_note', args: { id: note.id } }] },
      { text: 'Deleted.' },
    )
    expect(await sql`select 1 from public.tasks where note_id = ${note.id}`).toHaveLength(0)
    expect(run.actions.map((a) => [a.table_name, a.operation])).toEqual([
      ['notes', 'delete'],
      ['tasks', 'delete'],
      ['tasks', 'delete'],
    ])

    await json<UndoResult>(undo(ada, run.id), 200)
    expect(await sql`select * from public.notes where id = ${note.id}`).toEqual(noteBefore)
    expect(await sql`select * from public.tasks where note_id = ${note.id} order by id`).toEqual(tasksBefore)
    // Listed as before, in the note's order.
    expect(await listTasks()).toEqual(listedBefore)
  })

  it('lets no other user read the actions or undo the run, and no agent trace a change under it', async ({
    sql,
    ada,
    bob,
  }) => {
    const run = await agentRun(
      sql,
      ada,
      'task_manager',
      { toolCalls: [{ name: 'create_task', args: { title: 'Ada’s errand' } }] },
      { text: 'Added.' },
    )
    await expectErrorEnvelope(await api('GET', `/ai/runs/${run.id}`, { user: bob }), 404, 'not_found')
    await expectErrorEnvelope(await undo(bob, run.id, { force: true }), 404, 'not_found')
    expect(await sql`select 1 from public.tasks where id = ${run.actions[0].row_id}`).toHaveLength(1)
    expect((await getRun(ada, run.id)).undone_at).toBeNull()

    // Bob's agent naming Ada's run cannot change a row: the trace refuses it, and nothing is stored.
    const claims = { sub: bob.id, role: 'authenticated', aud: 'authenticated' }
    const forged = agentContext(claims, {
      agentId: 'task_manager',
      runId: run.id,
      messageId: null,
      stepId: crypto.randomUUID(),
    })
    await expect(createTask({ ctx: forged, input: { title: 'forged' } })).rejects.toThrow(
      /must name a run of the signed-in user/,
    )
    expect(await sql`select 1 from public.tasks where title = 'forged'`).toHaveLength(0)
  })

  it('refuses a stale If-Match (412), a run still working (409) and a bad body (422); replays an Idempotency-Key', async ({
    sql,
    ada,
  }) => {
    const run = await agentRun(
      sql,
      ada,
      'task_manager',
      { toolCalls: [{ name: 'create_task', args: { title: 'Replayed' } }] },
      { text: 'Added.' },
    )
    const created = run.actions[0].row_id
    await expectErrorEnvelope(
      await undo(ada, run.id, {}, { 'if-match': '"2020-01-01T00:00:00.000000Z"' }),
      412,
      'precondition_failed',
    )
    await expectErrorEnvelope(await undo(ada, run.id, { force: 'yes' }), 422, 'validation_failed')
    await expectErrorEnvelope(await undo(ada, run.id, { force: true, extra: 1 }), 422, 'validation_failed')
    expect(await sql`select 1 from public.tasks where id = ${created}`).toHaveLength(1)

    const key = { 'idempotency-key': crypto.randomUUID() }
    const first = await undo(ada, run.id, {}, key)
    const body = await expectJson<UndoResult>(first, 200)
    expect(body.reverted).toHaveLength(1)
    const replay = await undo(ada, run.id, {}, key)
    expect(await expectJson<UndoResult>(replay, 200)).toEqual(body)
    expect(replay.headers.get('idempotent-replayed')).toBe('true')

    const [queued] = await sql`
      insert into public.agent_runs (user_id, conversation_id, agent_id)
      values (${ada.id}, ${await conversationOf(sql, ada)}, 'task_manager') returning id`
    const working = await expectErrorEnvelope(await undo(ada, queued.id), 409, 'conflict')
    expect(working.message).toMatch(/still queued/)
  })
})
