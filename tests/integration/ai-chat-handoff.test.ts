import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { app as aiApp } from '../../functions/ai/app.ts'
import { app as chatApp } from '../../functions/chat/app.ts'
import { backgroundSettled } from '../../shared/ai/engine.ts'
import { setRunLimitsForTests } from '../../shared/ai/limits.ts'
import { setAiConfigForTests } from '../../shared/config.ts'
import { closeSql } from '../../shared/db/client.ts'
import { noProviders, useProviders } from '../helpers/ai.ts'
import { expectJson } from '../helpers/domain.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { adminSql, createUser, type TestUser } from '../helpers/stack.ts'

// The chat function hands a posted message to the ai function over HTTP with the user's token
// (functions never import each other). Here the ai app is served on a loopback port of its own
// (AI_FUNCTION_URL), so that it talks to this test's fake provider; chat is called in process.

let openai: FakeOpenAI
let server: ReturnType<typeof serve>
const sql = adminSql()

beforeAll(async () => {
  openai = await startFakeOpenAI()
  server = serve({ fetch: aiApp.fetch, port: 0, hostname: '127.0.0.1' })
  await new Promise((resolve) => server.once('listening', resolve))
  process.env.AI_FUNCTION_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ai`
})
afterAll(async () => {
  await backgroundSettled()
  delete process.env.AI_FUNCTION_URL
  await new Promise((resolve) => server.close(resolve))
  await openai.close()
  await sql.end()
  await closeSql()
})
afterEach(async () => {
  await backgroundSettled()
  setAiConfigForTests(undefined)
  setRunLimitsForTests(undefined)
})

interface Posted {
  id: string
  role: string
  agent_id: string | null
  run?: { id: string; status: string; error: { code: string } | null } | null
  run_error?: { code: string; message: string }
}

describe('chat hands a message to an agent', () => {
  let ada: TestUser
  beforeAll(async () => {
    ada = await createUser('ada')
  })

  const conversation = async () =>
    (await sql`insert into public.conversations (user_id) values (${ada.id}) returning id`)[0].id as string
  const post = (
    conversationId: string,
    body: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) =>
    chatApp.request(`/chat/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
  const roles = async (conversationId: string) =>
    (
      await sql`select role::text, coalesce(agent_id, addressee) as agent from public.messages
                where conversation_id = ${conversationId} order by created_at, id`
    ).map((row) => `${row.role}:${row.agent}`)

  it('answers 201 with the message and its queued run; the addressed agent answers and acts', async () => {
    useProviders({ openai }, { defaultModel: 'openai:gpt-test' })
    setRunLimitsForTests({ runsPerMinute: 0 })
    const conversationId = await conversation()
    openai.reply(
      { toolCalls: [{ name: 'create_task', args: { title: 'Book the dentist' } }] },
      { text: 'Booked as a task.' },
    )
    const posted = await expectJson<Posted>(
      await post(conversationId, { content: 'Remind me to book the dentist', agent_id: 'task_manager' }),
      201,
    )
    expect(posted).toMatchObject({
      role: 'user',
      agent_id: 'task_manager',
      run: { status: 'queued', error: null },
    })
    await backgroundSettled()
    const [run] =
      await sql`select status, agent_id, trigger_message_id from public.agent_runs where id = ${posted.run?.id as string}`
    expect(run).toEqual({ status: 'succeeded', agent_id: 'task_manager', trigger_message_id: posted.id })
    expect(await roles(conversationId)).toEqual([
      'user:task_manager',
      'tool:task_manager',
      'assistant:task_manager',
    ])
    const [task] =
      await sql`select source_reference from public.tasks where user_id = ${ada.id} and title = 'Book the dentist'`
    expect(task.source_reference).toEqual({
      agent_id: 'task_manager',
      run_id: posted.run?.id,
      message_id: posted.id,
    })
  })

  it('stores the message only with respond: false, and starts no second run for a repeated Idempotency-Key', async () => {
    useProviders({ openai }, { defaultModel: 'openai:gpt-test' })
    setRunLimitsForTests({ runsPerMinute: 0 })
    const conversationId = await conversation()
    const quiet = await expectJson<Posted>(
      await post(conversationId, { content: 'Just a note', respond: false }),
      201,
    )
    expect(quiet.run).toBeUndefined()
    openai.reply({ text: 'Hello.' })
    const headers = { 'idempotency-key': crypto.randomUUID() }
    const first = await expectJson<Posted>(await post(conversationId, { content: 'Hi' }, headers), 201)
    const again = await expectJson<Posted>(await post(conversationId, { content: 'Hi' }, headers), 201)
    expect(again.id).toBe(first.id)
    expect(again.run).toBeUndefined()
    await backgroundSettled()
    const [{ n }] =
      await sql`select count(*)::int as n from public.agent_runs where conversation_id = ${conversationId}`
    expect(n).toBe(1)
  })

  it('answers a stored message once: another run for it is 409, a message of another conversation 404', async () => {
    setAiConfigForTests(noProviders())
    const conversationId = await conversation()
    const other = await conversation()
    const posted = await expectJson<Posted>(await post(conversationId, { content: 'Once only' }), 201)
    const start = (body: Record<string, unknown>) =>
      aiApp.request('/ai/runs', {
        method: 'POST',
        headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    expect((await start({ conversation_id: conversationId, message_id: posted.id })).status).toBe(409)
    expect((await start({ conversation_id: other, message_id: posted.id })).status).toBe(404)
    expect(
      (await start({ conversation_id: conversationId, message_id: posted.id, content: 'both' })).status,
    ).toBe(422)
    const [{ n }] =
      await sql`select count(*)::int as n from public.agent_runs where trigger_message_id = ${posted.id}`
    expect(n).toBe(1)
  })

  it('with no provider: the message is stored and its run failed (provider_unavailable)', async () => {
    setAiConfigForTests(noProviders())
    const conversationId = await conversation()
    const posted = await expectJson<Posted>(await post(conversationId, { content: 'Anyone there?' }), 201)
    expect(posted.run).toMatchObject({ status: 'failed', error: { code: 'provider_unavailable' } })
    expect(await roles(conversationId)).toEqual(['user:null'])
  })

  it('over the run limits: the message is stored, no run, and run_error says why', async () => {
    setAiConfigForTests(noProviders())
    setRunLimitsForTests({ runsPerMinute: 1 })
    const user = ada
    const conversationId = await conversation()
    await sql`delete from private.request_counts where key = ${`runs:${user.id}`}`
    await expectJson<Posted>(await post(conversationId, { content: 'one' }), 201)
    const second = await expectJson<Posted>(await post(conversationId, { content: 'two' }), 201)
    expect(second.run).toBeNull()
    expect(second.run_error).toMatchObject({ code: 'rate_limited' })
    expect(await roles(conversationId)).toEqual(['user:null', 'user:null'])
  })
})
