import type { SupabaseClient } from '@supabase/supabase-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FunctionWorker } from '../../scripts/stack/functions/runner.ts'
import { aiFunctionWorker, providerCases } from '../helpers/ai-worker.ts'
import { type FakeAnthropic, startFakeAnthropic } from '../helpers/fake-anthropic.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { createConversation, Inbox, realtimeClient, subscribed } from '../helpers/realtime-client.ts'
import { adminSql, createUser, stack, type TestUser } from '../helpers/stack.ts'

// Approval over Realtime, as a frontend sees it: a real supabase-js client subscribed to the
// conversation's private channel receives `approval_required` from the ai function under Deno; the
// function's process is then stopped, and the approval call to a NEW process resumes the run from
// what Postgres kept (nothing of it is in memory there), its events arriving on the same channel,
// numbered after the ones before the pause.

interface Broadcast {
  event: string
  payload: {
    run_id: string
    seq: number
    actions?: Array<{
      action_id: string
      tool: string
      reason: string
      summary: string
      arguments: Record<string, unknown>
      change: { operation: string; table: string; count: number; rows: Array<{ id: string; title: string }> }
    }>
    [key: string]: unknown
  }
}

let openai: FakeOpenAI
let anthropic: FakeAnthropic
const workers: FunctionWorker[] = []
const clients: SupabaseClient[] = []
const sql = adminSql()

function aiWorker(provider: Record<string, string>): FunctionWorker {
  const worker = aiFunctionWorker(provider)
  workers.push(worker)
  return worker
}

beforeAll(async () => {
  openai = await startFakeOpenAI()
  anthropic = await startFakeAnthropic()
})
afterAll(async () => {
  await Promise.all(clients.map((client) => client.removeAllChannels()))
  await Promise.all(workers.map((worker) => worker.stop()))
  await openai.close()
  await anthropic.close()
  await sql.end()
})

const cases = providerCases(() => ({ openai, anthropic }))

describe.each(cases)('approval over Realtime ($provider)', ({ env, fake }) => {
  let first: FunctionWorker
  let ada: TestUser
  beforeAll(async () => {
    first = aiWorker(env())
    await first.whenReady()
    ada = await createUser('ada')
  })

  async function follow(user: TestUser, conversationId: string) {
    const client = await realtimeClient(stack.apiUrl, user.token)
    clients.push(client)
    const inbox = new Inbox<Broadcast>()
    const channel = client
      .channel(`conversation:${conversationId}`, { config: { private: true } })
      .on('broadcast', { event: '*' }, (message) => inbox.push(message as unknown as Broadcast))
    await subscribed(channel)
    return inbox
  }

  const post = (worker: FunctionWorker, user: TestUser, path: string, body: unknown) =>
    fetch(`http://127.0.0.1:${worker.port}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })

  /** Starts a run whose agent wants to delete the task, and waits for the approval it asks for. */
  async function pausedDelete(worker: FunctionWorker, title: string) {
    const [task] =
      await sql`insert into public.tasks (user_id, title) values (${ada.id}, ${title}) returning id`
    const conversationId = await createConversation(sql, ada.id)
    const inbox = await follow(ada, conversationId)
    fake().reply({ text: 'I will delete it. ', toolCalls: [{ name: 'delete_task', args: { id: task.id } }] })
    const response = await post(worker, ada, '/ai/runs', {
      conversation_id: conversationId,
      agent_id: 'task_manager',
      content: `Delete “${title}”`,
    })
    expect(response.status).toBe(202)
    const run = (await response.json()) as { id: string }
    const asked = await inbox.next(
      (b) => b.event === 'approval_required' && b.payload.run_id === run.id,
      'approval_required',
    )
    return { task, run, inbox, asked, conversationId }
  }

  it('broadcasts approval_required, and the approval in a new process resumes the run from Postgres', async () => {
    const { task, run, inbox, asked, conversationId } = await pausedDelete(first, 'Cancel the gym')
    expect(asked.payload.actions).toEqual([
      {
        action_id: expect.any(String),
        tool: 'delete_task',
        agent_id: 'task_manager',
        arguments: { id: task.id },
        reason: 'delete',
        summary: 'Delete the task “Cancel the gym”',
        change: {
          operation: 'delete',
          table: 'tasks',
          count: 1,
          rows: [{ id: task.id, title: 'Cancel the gym' }],
        },
      },
    ])
    expect(asked.payload.expires_at).toEqual(expect.any(String))
    const [waiting] = await sql`select status from public.agent_runs where id = ${run.id}`
    expect(waiting.status).toBe('awaiting_approval')

    // The process that paused the run is gone; another one serves the approval.
    const pausedBy = first.pid
    await first.stop()
    const second = aiWorker(env())
    await second.whenReady()
    expect(second.pid).not.toBe(pausedBy)

    fake().reply({ text: 'Deleted.' })
    const actionId = asked.payload.actions?.[0].action_id as string
    const approved = await post(second, ada, `/ai/runs/${run.id}/approval`, {
      decisions: [{ action_id: actionId, approve: true }],
    })
    expect(approved.status).toBe(202)
    expect(((await approved.json()) as { status: string }).status).toBe('running')

    const finished = await inbox.next(
      (b) => b.event === 'run_finished' && b.payload.run_id === run.id,
      'run_finished',
    )
    const events = inbox.items.filter((b) => b.payload.run_id === run.id)
    // One numbering across both processes, in order.
    expect(events.map((b) => b.payload.seq)).toEqual(events.map((_, i) => i))
    expect(events.map((b) => b.event).filter((name) => name !== 'token')).toEqual([
      'run_started',
      'approval_required',
      'run_resumed',
      'tool_call',
      'tool_result',
      'run_finished',
    ])
    expect(events.find((b) => b.event === 'run_resumed')?.payload.decisions).toEqual([
      { action_id: actionId, approve: true },
    ])
    expect(events.find((b) => b.event === 'tool_result')?.payload).toMatchObject({
      name: 'delete_task',
      ok: true,
    })
    expect(await sql`select id from public.tasks where id = ${task.id}`).toEqual([])
    const [message] = await sql`
      select id, content from public.messages where conversation_id = ${conversationId} and role = 'assistant'`
    expect(message.content).toBe('I will delete it. \n\nDeleted.')
    expect(finished.payload).toMatchObject({ status: 'succeeded', message_id: message.id })
    first = second
  })

  it('refuses another user’s approval (404), and a refusal goes back to the agent: nothing deleted', async () => {
    const { task, run, inbox, asked } = await pausedDelete(first, 'Keep the plants')
    const actionId = asked.payload.actions?.[0].action_id as string
    const bob = await createUser('bob')
    const stolen = await post(first, bob, `/ai/runs/${run.id}/approval`, {
      decisions: [{ action_id: actionId, approve: true }],
    })
    expect(stolen.status).toBe(404)
    expect(((await stolen.json()) as { error: { code: string } }).error.code).toBe('not_found')

    fake().reply({ text: 'Left it alone.' })
    const refused = await post(first, ada, `/ai/runs/${run.id}/approval`, {
      decisions: [{ action_id: actionId, approve: false, note: 'I water them daily' }],
    })
    expect(refused.status).toBe(202)
    await inbox.next((b) => b.event === 'run_finished' && b.payload.run_id === run.id, 'run_finished')
    const result = inbox.items.find((b) => b.event === 'tool_result' && b.payload.run_id === run.id)
    expect(result?.payload).toMatchObject({ name: 'delete_task', ok: false, error: { code: 'refused' } })
    expect(await sql`select id from public.tasks where id = ${task.id}`).toHaveLength(1)
    const [approval] = await sql`select decision, note from public.agent_run_approvals where id = ${actionId}`
    expect(approval).toEqual({ decision: 'refused', note: 'I water them daily' })
  })
})
