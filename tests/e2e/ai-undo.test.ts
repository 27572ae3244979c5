import { createClient, FunctionsHttpError, type SupabaseClient } from '@supabase/supabase-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { FunctionWorker } from '../../scripts/stack/functions/runner.ts'
import { aiFunctionWorker, openaiEnv } from '../helpers/ai-worker.ts'
import { checkItem, paragraph } from '../helpers/domain.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import type { FakeReply } from '../helpers/fake-provider.ts'
import { adminSql, stack } from '../helpers/stack.ts'

// What a frontend does to see and take back what an agent did, with the real supabase-js client:
// signed up and in through the stack's auth service, the notes and tasks functions through the
// stack's gateway, and the ai function under Deno in a worker of this test's own (pointed at the
// fake OpenAI, as the stack's functions get no provider settings). supabase-js reaches that worker
// through its `global.fetch`, which sends `functions/v1/ai/…` there; everything else goes to the stack.

interface Action {
  id: string
  step_id: string | null
  table_name: string
  row_id: string
  operation: string
  undone_at: string | null
}
interface Run {
  id: string
  status: string
  undone_at: string | null
  steps: Array<{ id: string; kind: string }>
  actions: Action[]
}
interface UndoResult {
  run: { id: string; undone_at: string | null }
  reverted: Action[]
  skipped: Array<{ table_name: string; row_id: string; operation: string; reason: string }>
  already_undone: boolean
}

let openai: FakeOpenAI
let worker: FunctionWorker
let aiUrl: string
const sql = adminSql()

beforeAll(async () => {
  openai = await startFakeOpenAI()
  worker = aiFunctionWorker({
    ...openaiEnv(openai),
    AI_RUNS_PER_MINUTE: '0',
  })
  aiUrl = `http://127.0.0.1:${await worker.whenReady()}`
})
afterAll(async () => {
  await worker.stop()
  await openai.close()
  await sql.end()
})

/** A user signed up with supabase-js, whose `functions/v1/ai` calls go to this test's worker. */
async function signedUp(name: string) {
  const aiPrefix = `${stack.apiUrl}/functions/v1/ai`
  const client = createClient(stack.apiUrl, stack.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket as never },
    global: {
      fetch: (input, init) => {
        const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
        return fetch(url.startsWith(aiPrefix) ? `${aiUrl}/ai${url.slice(aiPrefix.length)}` : input, init)
      },
    },
  })
  const { data, error } = await client.auth.signUp({
    email: `${name}-${crypto.randomUUID().slice(0, 12)}@example.test`,
    password: 'correct-horse-1',
  })
  expect(error).toBeNull()
  const id = data.user?.id as string
  // Its agents change without asking (ai.approval never): undo is under test here, approval elsewhere.
  await sql`
    update public.profiles set preferences = coalesce(preferences, '{}') || '{"ai": {"approval": "never"}}'
    where id = ${id}`
  return { client, id }
}

/** The body of a successful call. */
async function ok<T>(call: Promise<{ data: unknown; error: unknown }>): Promise<T> {
  const { data, error } = await call
  if (error instanceof FunctionsHttpError) {
    throw new Error(`${error.context.status}: ${await error.context.text()}`)
  }
  expect(error).toBeNull()
  return data as T
}

/** The status and error envelope of a call that must fail. */
async function failure(call: Promise<{ data: unknown; error: unknown }>) {
  const { error } = await call
  expect(error).toBeInstanceOf(FunctionsHttpError)
  const response = (error as FunctionsHttpError).context as Response
  const body = (await response.json()) as {
    error: { code: string; message: string; details?: Array<{ path: string; message: string }> }
  }
  return { status: response.status, ...body.error }
}

const getRun = (client: SupabaseClient, id: string) =>
  ok<Run>(client.functions.invoke(`ai/runs/${id}`, { method: 'GET' }))

const undo = (client: SupabaseClient, id: string, body: Record<string, unknown> = {}) =>
  client.functions.invoke(`ai/runs/${id}/undo`, { method: 'POST', body })

/** A real run of an agent answering with these replies, followed until it ends; it must succeed. */
async function agentRun(client: SupabaseClient, agentId: string, ...replies: FakeReply[]): Promise<Run> {
  const conversation = await ok<{ id: string }>(
    client.functions.invoke('chat/conversations', { method: 'POST', body: {} }),
  )
  openai.reply(...replies)
  const started = await ok<{ id: string }>(
    client.functions.invoke('ai/runs', {
      method: 'POST',
      body: { conversation_id: conversation.id, agent_id: agentId, content: 'Please do it' },
    }),
  )
  const end = Date.now() + 20_000
  for (;;) {
    const run = await getRun(client, started.id)
    if (!['queued', 'running'].includes(run.status)) {
      expect(run.status).toBe('succeeded')
      return run
    }
    if (Date.now() > end) throw new Error(`run ${run.id} still ${run.status}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('undo of a run over HTTP, with supabase-js', () => {
  it('lists the actions, refuses an undo over a row changed since (409), forces it, and undoes twice as a no-op', async () => {
    const { client, id: userId } = await signedUp('ada')
    const kept = await ok<{ id: string }>(
      client.functions.invoke('tasks', { method: 'POST', body: { title: 'Book flights' } }),
    )
    const doomed = await ok<{ id: string }>(
      client.functions.invoke('tasks', { method: 'POST', body: { title: 'Renew passport' } }),
    )
    const run = await agentRun(
      client,
      'task_manager',
      {
        toolCalls: [
          { name: 'create_task', args: { title: 'Pack bags' } },
          { name: 'update_task', args: { id: kept.id, changes: { priority: 'urgent' } } },
          { name: 'delete_task', args: { id: doomed.id } },
        ],
      },
      { text: 'Done.' },
    )
    const created = run.actions[0].row_id
    const toolSteps = run.steps.filter((step) => step.kind === 'tool_call').map((step) => step.id)
    expect(run.actions.map((a) => [a.table_name, a.operation, a.step_id])).toEqual([
      ['tasks', 'insert', toolSteps[0]],
      ['tasks', 'update', toolSteps[1]],
      ['tasks', 'delete', toolSteps[2]],
    ])

    // The user changes the task the agent made; their own edit is not traced.
    await ok(client.functions.invoke(`tasks/${created}`, { method: 'PUT', body: { title: 'Pack two bags' } }))
    expect((await getRun(client, run.id)).actions).toHaveLength(3)
    const [{ n }] =
      await sql`select count(*)::int as n from public.agent_run_actions where user_id = ${userId}`
    expect(n).toBe(3)

    const refused = await failure(undo(client, run.id))
    expect(refused).toMatchObject({
      status: 409,
      code: 'conflict',
      details: [
        { path: `tasks/${created}`, message: expect.stringMatching(/changed after the run created it/) },
      ],
    })
    expect(await sql`select priority from public.tasks where id = ${kept.id}`).toEqual([
      { priority: 'urgent' },
    ])
    expect(await sql`select 1 from public.tasks where id = ${doomed.id}`).toHaveLength(0)

    const forced = await ok<UndoResult>(undo(client, run.id, { force: true }))
    expect(forced.skipped).toEqual([
      {
        action_id: run.actions[0].id,
        table_name: 'tasks',
        row_id: created,
        operation: 'insert',
        reason: expect.any(String),
      },
    ])
    expect(forced.reverted.map((a) => a.row_id)).toEqual([doomed.id, kept.id])
    const rows =
      await sql`select id, title, priority from public.tasks where user_id = ${userId} order by created_at`
    expect(rows).toEqual([
      { id: kept.id, title: 'Book flights', priority: 'medium' },
      { id: doomed.id, title: 'Renew passport', priority: 'medium' },
      { id: created, title: 'Pack two bags', priority: 'medium' },
    ])

    const again = await ok<UndoResult>(undo(client, run.id))
    expect(again).toMatchObject({ already_undone: true, reverted: [], skipped: [] })
    expect(again.run.undone_at).toBe(forced.run.undone_at)
    expect(
      await sql`select id, title, priority from public.tasks where user_id = ${userId} order by created_at`,
    ).toEqual(rows)
  })

  it('brings a deleted note back with its checklist tasks; another user can neither read nor undo the run', async () => {
    const ada = await signedUp('ada')
    const bob = await signedUp('bob')
    const note = await ok<{ id: string }>(
      ada.client.functions.invoke('notes', {
        method: 'POST',
        body: {
          title: 'Move',
          content: [paragraph('p1', 'Saturday'), checkItem('k1', 'Boxes'), checkItem('k2', 'Van')],
        },
      }),
    )
    const listTasks = () =>
      ok<{ data: Array<{ id: string; title: string }> }>(
        ada.client.functions.invoke(`notes/${note.id}/tasks`, { method: 'GET' }),
      )
    const checklist = (await listTasks()).data
    // Made in one transaction, they share created_at: the order between them is their ids'.
    expect(checklist.map((task) => task.title).sort()).toEqual(['Boxes', 'Van'])

    const run = await agentRun(
      ada.client,
      'knowledge',
      { toolCalls: [{ name: 'delete_note', args: { id: note.id } }] },
      { text: 'Deleted.' },
    )
    expect(run.actions.map((a) => [a.table_name, a.operation])).toEqual([
      ['notes', 'delete'],
      ['tasks', 'delete'],
      ['tasks', 'delete'],
    ])
    expect(await failure(ada.client.functions.invoke(`notes/${note.id}`, { method: 'GET' }))).toMatchObject({
      status: 404,
    })

    expect(await failure(bob.client.functions.invoke(`ai/runs/${run.id}`, { method: 'GET' }))).toMatchObject({
      status: 404,
      code: 'not_found',
    })
    expect(await failure(undo(bob.client, run.id, { force: true }))).toMatchObject({
      status: 404,
      code: 'not_found',
    })
    expect(await sql`select 1 from public.notes where id = ${note.id}`).toHaveLength(0)

    const undone = await ok<UndoResult>(undo(ada.client, run.id))
    expect(undone.reverted).toHaveLength(3)
    const back = await ok<{ id: string; title: string }>(
      ada.client.functions.invoke(`notes/${note.id}`, { method: 'GET' }),
    )
    expect(back.title).toBe('Move')
    expect((await listTasks()).data).toEqual(checklist)
  })
})
