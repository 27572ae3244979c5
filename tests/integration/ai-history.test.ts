import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { app } from '../../functions/ai/app.ts'
import { HISTORY_BUDGET_CHARS } from '../../shared/ai/context.ts'
import { backgroundSettled } from '../../shared/ai/engine.ts'
import { setRunLimitsForTests } from '../../shared/ai/limits.ts'
import { setAiConfigForTests } from '../../shared/config.ts'
import { closeSql } from '../../shared/db/client.ts'
import { useProviders } from '../helpers/ai.ts'
import { expectJson } from '../helpers/domain.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { adminSql, createUser, type TestUser } from '../helpers/stack.ts'

// A conversation longer than the history budget: the turns that do not fit are summarised into the
// conversation (a system message of kind 'summary') before the first model call, and later runs
// start from that summary instead of losing those turns.

let openai: FakeOpenAI
const sql = adminSql()
let ada: TestUser

beforeAll(async () => {
  openai = await startFakeOpenAI()
  ada = await createUser('ada')
})
afterAll(async () => {
  await backgroundSettled()
  await openai.close()
  await sql.end()
  await closeSql()
})
beforeEach(() => {
  useProviders({ openai }, { defaultModel: 'openai:gpt-test' })
  setRunLimitsForTests({ runsPerMinute: 0 })
})
afterEach(async () => {
  await backgroundSettled()
  setAiConfigForTests(undefined)
  setRunLimitsForTests(undefined)
})

interface Step {
  kind: string
  input: Record<string, unknown>
  output: Record<string, unknown>
}

const call = (path: string, body?: unknown) =>
  app.request(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })

/**
 * A conversation of `pairs` exchanges of 2,000 characters a message, oldest first, a second apart:
 * the embedded database's now() counts whole milliseconds, so rows written quickly could share a
 * created_at and come back in the order of their random ids.
 */
async function longConversation(pairs: number) {
  const [{ id }] = await sql`insert into public.conversations (user_id) values (${ada.id}) returning id`
  const turns: Array<{ id: string; content: string }> = []
  for (let i = 0; i < pairs; i++) {
    for (const role of ['user', 'assistant'] as const) {
      const content = `${role} turn ${i}: `.padEnd(2000, role === 'user' ? ' ask' : ' answer')
      const secondsAgo = 2 * (pairs - i) - (role === 'user' ? 0 : 1)
      const [row] = await sql<{ id: string }[]>`
        insert into public.messages (user_id, conversation_id, role, content, agent_id, created_at)
        values (${ada.id}, ${id}, ${role}, ${content}, ${role === 'assistant' ? 'coordinator' : null},
                now() - make_interval(secs => ${secondsAgo}))
        returning id`
      turns.push({ id: row.id, content })
    }
  }
  return { conversationId: id as string, turns }
}

const requestText = (index: number) =>
  openai.requests[index].body.messages.map((m) => `${m.role}: ${String(m.content)}`).join('\n')
const systemOf = (index: number) => String(openai.requests[index].body.messages[0].content)

async function runTo(conversationId: string, content: string) {
  const run = await expectJson<{ id: string }>(
    await call('/ai/runs', { conversation_id: conversationId, content }),
    202,
  )
  await backgroundSettled()
  return expectJson<{ status: string; steps: Step[] }>(await call(`/ai/runs/${run.id}`), 200)
}

describe('a conversation longer than the history budget', () => {
  it('summarises the older turns into the conversation and starts later runs from the summary', async () => {
    const { conversationId, turns } = await longConversation(8) // 16 messages, 32,000 characters
    expect(turns.reduce((sum, turn) => sum + turn.content.length, 0)).toBeGreaterThan(HISTORY_BUDGET_CHARS)
    const seen = openai.requests.length
    openai.reply(
      { text: 'Ada asked about turns 0 to 4 and got answers.' },
      { text: 'We decided on the plan.' },
    )
    const first = await runTo(conversationId, 'What did we decide?')
    expect(first.status).toBe('succeeded')

    // The summarising call got the oldest turns as delimited data, not the newest.
    expect(systemOf(seen)).toMatch(/summarise the earlier part of a conversation/)
    expect(requestText(seen)).toContain('<turn role="user">\nuser turn 0:')
    expect(requestText(seen)).not.toContain('user turn 7:')
    // The answering call: the summary in its system prompt, the oldest turns gone, the newest there.
    const answering = requestText(seen + 1)
    expect(systemOf(seen + 1)).toContain(
      '<conversation_summary>\nAda asked about turns 0 to 4 and got answers.\n</conversation_summary>',
    )
    expect(systemOf(seen + 1)).not.toMatch(/are not shown/)
    expect(answering).not.toContain('user turn 0:')
    expect(answering).toContain('assistant turn 7:')
    expect(answering).toContain('What did we decide?')

    // The summary is in the conversation, saying which messages it covers.
    const [summary] = await sql<
      { id: string; agent_id: string; content: string; metadata: Record<string, unknown> }[]
    >`
      select id, agent_id, content, metadata from public.messages
      where conversation_id = ${conversationId} and role = 'system'`
    expect(summary).toMatchObject({
      agent_id: 'coordinator',
      content: 'Ada asked about turns 0 to 4 and got answers.',
      metadata: { kind: 'summary', run_id: expect.any(String) },
    })
    const through = turns.findIndex((turn) => turn.id === summary.metadata.through_id)
    expect(through).toBeGreaterThan(0)
    expect(summary.metadata.messages).toBe(through + 1)
    expect(answering).not.toContain(turns[through].content.slice(0, 20))
    expect(answering).toContain(turns[through + 1].content.slice(0, 20))
    expect(first.steps.map((step) => [step.kind, step.input.purpose ?? null])).toEqual([
      ['context', null],
      ['model_call', 'summary'],
      ['model_call', null],
    ])

    // The next run fits the budget again: no new summary, the stored one goes in.
    const next = openai.requests.length
    openai.reply({ text: 'Still the plan.' })
    const second = await runTo(conversationId, 'And now?')
    expect(second.status).toBe('succeeded')
    expect(openai.requests.length).toBe(next + 1)
    expect(systemOf(next)).toContain('Ada asked about turns 0 to 4 and got answers.')
    expect(requestText(next)).not.toContain(turns[through].content.slice(0, 20))
    expect(second.steps[0].input.history_summary).toEqual({
      messages: through + 1,
      through: summary.metadata.through_id,
    })
  })

  it('answers anyway when the summary cannot be written, saying how many turns are not shown', async () => {
    const { conversationId } = await longConversation(8)
    const seen = openai.requests.length
    openai.reply({ error: { status: 400, message: 'context too long' } }, { text: 'Answered without it.' })
    const run = await runTo(conversationId, 'Go on')
    expect(run.status).toBe('succeeded')
    expect(systemOf(seen + 1)).toMatch(/\d+ earlier messages of this conversation are not shown/)
    const [{ count }] = await sql`
      select count(*)::int as count from public.messages where conversation_id = ${conversationId} and role = 'system'`
    expect(count).toBe(0)
  })
})
