import type { SupabaseClient } from '@supabase/supabase-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FunctionWorker } from '../../scripts/stack/functions/runner.ts'
import { aiFunctionWorker, providerCases } from '../helpers/ai-worker.ts'
import { type FakeAnthropic, startFakeAnthropic } from '../helpers/fake-anthropic.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { createConversation, Inbox, realtimeClient, subscribed } from '../helpers/realtime-client.ts'
import { adminSql, createUser, stack, type TestUser } from '../helpers/stack.ts'

// What a frontend sees: a real supabase-js client (ws transport) subscribed to the private channel
// `conversation:{id}` receives a run's broadcasts in order, from the ai function running under
// Deno as on the edge runtime, its answer produced in the background (EdgeRuntime.waitUntil) by the
// real SDKs talking to a fake provider. The function gets its own worker here, so that this test
// can point it at its fakes; it uses the stack's database, auth and Realtime like any function.

interface Broadcast {
  event: string
  payload: { run_id: string; seq: number; text?: string; message_id?: string; [key: string]: unknown }
}

let openai: FakeOpenAI
let anthropic: FakeAnthropic
const workers: FunctionWorker[] = []
const clients: SupabaseClient[] = []
const sql = adminSql()

async function aiWorker(provider: Record<string, string>): Promise<string> {
  const worker = aiFunctionWorker(provider)
  workers.push(worker)
  return `http://127.0.0.1:${await worker.whenReady()}`
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

describe.each(cases)('a run streamed over Realtime ($provider)', ({ env, fake }) => {
  let url: string
  let ada: TestUser
  beforeAll(async () => {
    url = await aiWorker(env())
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

  const startRun = (user: TestUser, body: Record<string, unknown>) =>
    fetch(`${url}/ai/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })

  it('delivers run_started, the tokens in order (batched) and run_finished with the stored message', async () => {
    const conversationId = await createConversation(sql, ada.id)
    const inbox = await follow(ada, conversationId)
    const words = Array.from({ length: 60 }, (_, i) => `w${i} `)
    fake().reply({ text: words, delayMs: 5, usage: { input: 50, output: 60 } })

    const response = await startRun(ada, { conversation_id: conversationId, content: 'Say sixty words' })
    expect(response.status).toBe(202)
    const run = (await response.json()) as { id: string; status: string }
    expect(run.status).toBe('queued')

    const finished = await inbox.next((b) => b.event === 'run_finished', 'run_finished')
    const events = inbox.items.filter((b) => b.payload.run_id === run.id)
    // Delivered in the order they were made.
    expect(events.map((b) => b.payload.seq)).toEqual(events.map((_, i) => i))
    expect(events[0].event).toBe('run_started')
    expect(events.at(-1)?.event).toBe('run_finished')
    const tokens = events.filter((b) => b.event === 'token')
    expect(tokens.map((b) => b.payload.text).join('')).toBe(words.join(''))
    // Batched: far fewer broadcasts than deltas (at most one per 50 ms while the answer streams).
    expect(tokens.length).toBeLessThan(words.length / 2)

    const [message] = await sql`
      select id, content, agent_id, role from public.messages
      where conversation_id = ${conversationId} and role = 'assistant'`
    expect(message).toMatchObject({ content: words.join(''), agent_id: 'coordinator' })
    expect(finished.payload).toMatchObject({ status: 'succeeded', message_id: message.id })
    const [stored] = await sql`select status, usage from public.agent_runs where id = ${run.id}`
    expect(stored.status).toBe('succeeded')
    expect(finished.payload.usage).toEqual(stored.usage)
  })

  it('broadcasts tool_call and tool_result, and run_failed with the code when the provider fails', async () => {
    const conversationId = await createConversation(sql, ada.id)
    const inbox = await follow(ada, conversationId)
    fake().reply(
      { toolCalls: [{ name: 'list_tasks', args: { status: ['todo'] } }] },
      { text: 'Nothing due.' },
    )
    const first = (await (
      await startRun(ada, { conversation_id: conversationId, content: 'What is due?' })
    ).json()) as {
      id: string
    }
    await inbox.next(
      (b) => b.event === 'run_finished' && b.payload.run_id === first.id,
      'the first run’s end',
    )
    const names = inbox.items.filter((b) => b.payload.run_id === first.id).map((b) => b.event)
    expect(names.filter((name) => name !== 'token')).toEqual([
      'run_started',
      'tool_call',
      'tool_result',
      'run_finished',
    ])
    expect(inbox.items.find((b) => b.event === 'tool_call')?.payload).toMatchObject({
      name: 'list_tasks',
      args: { status: ['todo'] },
      agent_id: 'coordinator',
    })
    expect(inbox.items.find((b) => b.event === 'tool_result')?.payload).toMatchObject({
      name: 'list_tasks',
      ok: true,
    })

    fake().reply({ error: { status: 400, message: 'context too long' } })
    const second = (await (
      await startRun(ada, { conversation_id: conversationId, content: 'Again' })
    ).json()) as {
      id: string
    }
    const failed = await inbox.next(
      (b) => b.event === 'run_failed' && b.payload.run_id === second.id,
      'run_failed',
    )
    expect(failed.payload.error).toMatchObject({ code: 'provider_unavailable' })
  })

  it('sends nothing to another user, who cannot join the conversation’s channel', async () => {
    const bob = await createUser('bob')
    const conversationId = await createConversation(sql, ada.id)
    const client = await realtimeClient(stack.apiUrl, bob.token)
    clients.push(client)
    await expect(
      subscribed(client.channel(`conversation:${conversationId}`, { config: { private: true } })),
    ).rejects.toThrow(/CHANNEL_ERROR/)
    // Nor can Bob start a run in Ada's conversation.
    const response = await startRun(bob, { conversation_id: conversationId, content: 'pwned' })
    expect(response.status).toBe(404)
    const [{ n }] =
      await sql`select count(*)::int as n from public.messages where conversation_id = ${conversationId}`
    expect(n).toBe(0)
  })
})
