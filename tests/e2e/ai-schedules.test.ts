import type { SupabaseClient } from '@supabase/supabase-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FunctionWorker } from '../../scripts/stack/functions/runner.ts'
import { aiFunctionWorker, openaiEnv } from '../helpers/ai-worker.ts'
import { startSchedulesTimer } from '../../scripts/stack/schedules-timer.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { createConversation, Inbox, realtimeClient, subscribed } from '../helpers/realtime-client.ts'
import { adminSql, createUser, stack, type TestUser } from '../helpers/stack.ts'

// A scheduled check-in as a frontend sees it: the user schedules a daily plan with the real
// supabase-js client, and when it comes due the due check — posted by the local stack's timer, as
// pg_cron posts it on hosted Supabase — starts the run in the ai function under Deno, which answers
// in the background (the real OpenAI SDK against a fake) into the conversation. A supabase-js
// subscriber gets the run's broadcasts on the private channel and the messages as postgres_changes.

interface Broadcast {
  event: string
  payload: {
    run_id: string
    seq: number
    message_id?: string
    error?: { code: string }
    [key: string]: unknown
  }
}
interface MessageChange {
  new: {
    id: string
    role: string
    content: string
    agent_id: string | null
    metadata: Record<string, unknown>
  }
}

let openai: FakeOpenAI
const workers: FunctionWorker[] = []
const clients: SupabaseClient[] = []
const sql = adminSql()

/** The ai function under Deno, as the stack runs it, with this test's fake as its provider. */
async function aiWorker(): Promise<string> {
  const worker = aiFunctionWorker({
    ...openaiEnv(openai),
  })
  workers.push(worker)
  return `http://127.0.0.1:${await worker.whenReady()}`
}

beforeAll(async () => {
  openai = await startFakeOpenAI()
})
afterAll(async () => {
  await Promise.all(clients.map((client) => client.removeAllChannels()))
  await Promise.all(workers.map((worker) => worker.stop()))
  await openai.close()
  await sql.end()
})

/** A signed-in user's supabase-js client, following a conversation's channel and its messages. */
async function follow(user: TestUser, conversationId: string) {
  const client = await realtimeClient(stack.apiUrl, user.token)
  clients.push(client)
  const broadcasts = new Inbox<Broadcast>()
  const messages = new Inbox<MessageChange>()
  await subscribed(
    client
      .channel(`conversation:${conversationId}`, { config: { private: true } })
      .on('broadcast', { event: '*' }, (message) => broadcasts.push(message as unknown as Broadcast)),
  )
  await subscribed(
    client.channel(`messages:${conversationId}`).on(
      'postgres_changes',
      {
        event: 'INSERT',
        schema: 'public',
        table: 'messages',
        filter: `conversation_id=eq.${conversationId}`,
      },
      (change) => messages.push(change as unknown as MessageChange),
    ),
  )
  return { client, broadcasts, messages }
}

describe('a scheduled check-in end to end', () => {
  let ada: TestUser
  beforeAll(async () => {
    ada = await createUser('ada')
  })

  it('a due daily plan, checked by the stack’s timer, is answered in its conversation and reaches a subscriber', async () => {
    const url = await aiWorker()
    const conversationId = await createConversation(sql, ada.id, 'Mornings')
    const { client, broadcasts, messages } = await follow(ada, conversationId)

    const { data: schedule, error } = await client.functions.invoke('ai/schedules', {
      body: { kind: 'daily_plan', conversation_id: conversationId, time_zone: 'Europe/Berlin' },
    })
    expect(error).toBeNull()
    expect(schedule).toMatchObject({
      kind: 'daily_plan',
      agent_id: 'planner',
      conversation_id: conversationId,
    })
    await sql`update public.schedules set next_run_at = now() - interval '1 minute' where id = ${schedule.id}`

    openai.reply({ text: ['Today: ', 'finish ', 'the ', 'report, ', 'then ', 'rest.'] })
    const timer = startSchedulesTimer({
      url: `${url}/ai/schedules/due`,
      serviceRoleKey: stack.serviceRoleKey,
      intervalMs: 200,
      log: () => {},
      // Only this test's user: other test files keep due schedules of their own.
      body: { user_ids: [ada.id] },
    })
    try {
      const finished = await broadcasts.next((b) => b.event === 'run_finished', 'run_finished')
      const events = broadcasts.items.filter((b) => b.payload.run_id === finished.payload.run_id)
      expect(events[0].event).toBe('run_started')
      expect(events.filter((b) => b.event === 'token').length).toBeGreaterThan(0)
      expect(events.map((b) => b.payload.seq)).toEqual(events.map((_, i) => i))

      const answer = await messages.next((m) => m.new.role === 'assistant', 'the answer as a postgres change')
      expect(answer.new).toMatchObject({
        content: 'Today: finish the report, then rest.',
        agent_id: 'planner',
      })
      expect(answer.new.id).toBe(finished.payload.message_id)
      const prompt = messages.items.find((m) => m.new.role === 'user')
      expect(prompt?.new.metadata).toMatchObject({ schedule_id: schedule.id, schedule_kind: 'daily_plan' })

      const [row] =
        await sql`select last_run_id, next_run_at, last_error from public.schedules where id = ${schedule.id}`
      expect(row.last_run_id).toBe(finished.payload.run_id)
      expect(row.last_error).toBeNull()
      expect(row.next_run_at.valueOf()).toBeGreaterThan(Date.now())
      const [run] =
        await sql`select user_id, status, agent_id from public.agent_runs where id = ${row.last_run_id}`
      expect(run).toMatchObject({ user_id: ada.id, status: 'succeeded', agent_id: 'planner' })
    } finally {
      await timer.stop()
    }
    // The timer kept checking; the schedule ran once.
    const [{ n }] = await sql`
      select count(*)::int as n from public.messages
      where conversation_id = ${conversationId} and metadata ->> 'schedule_id' = ${schedule.id}`
    expect(n).toBe(1)
  })

  it('through the gateway, as pg_net calls it: without a provider the run fails visibly, over Realtime too', async () => {
    const conversationId = await createConversation(sql, ada.id, 'Reviews')
    const { client, broadcasts } = await follow(ada, conversationId)
    const { data: schedule } = await client.functions.invoke('ai/schedules', {
      body: { kind: 'weekly_review', conversation_id: conversationId },
    })
    await sql`update public.schedules set next_run_at = now() - interval '1 minute' where id = ${schedule.id}`

    // A user's token is no key to the due check.
    const refused = await client.functions.invoke('ai/schedules/due', { body: { user_ids: [ada.id] } })
    expect(refused.error).not.toBeNull()
    expect((refused.error as { context?: Response }).context?.status).toBe(401)

    // The stack's own ai function has no provider configured (tests/setup/global.ts).
    const response = await fetch(`${stack.apiUrl}/functions/v1/ai/schedules/due`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.serviceRoleKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_ids: [ada.id] }),
    })
    expect(response.status).toBe(200)
    const result = (await response.json()) as {
      runs: Array<{ schedule_id: string; run_id: string; status: string }>
    }
    expect(result.runs).toEqual([
      expect.objectContaining({
        schedule_id: schedule.id,
        status: 'failed',
        error: expect.objectContaining({ code: 'provider_unavailable' }),
      }),
    ])
    const failed = await broadcasts.next((b) => b.event === 'run_failed', 'run_failed')
    expect(failed.payload).toMatchObject({
      run_id: result.runs[0].run_id,
      error: { code: 'provider_unavailable' },
    })
  })
})
