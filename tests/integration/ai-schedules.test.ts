import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { app } from '../../functions/ai/app.ts'
import { nextOccurrence } from '../../shared/ai/cron.ts'
import { backgroundSettled } from '../../shared/ai/engine.ts'
import { setRunLimitsForTests } from '../../shared/ai/limits.ts'
import { PRESETS } from '../../shared/ai/schedules.ts'
import { setAiConfigForTests } from '../../shared/config.ts'
import { userContext } from '../../shared/core/context.ts'
import { closeSql } from '../../shared/db/client.ts'
import { withUser } from '../../shared/db/with-user.ts'
import { noProviders, useProviders } from '../helpers/ai.ts'
import { expectJson, type Page } from '../helpers/domain.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { adminSql, createUser, stack, type TestUser } from '../helpers/stack.ts'

// Scheduled check-ins in process against the real database and the fake OpenAI: the routes (CRUD
// with ETags, run now), the due check (exactly once under concurrent checks, as the owner under
// their RLS, failures visible), and what keeps the due check's way into withUser server-side.

interface Schedule {
  id: string
  user_id: string
  kind: string
  agent_id: string
  prompt: string | null
  cron: string
  time_zone: string | null
  next_run_time_zone: string | null
  conversation_id: string | null
  enabled: boolean
  next_run_at: string | null
  last_run_id: string | null
  last_run_at: string | null
  last_error: { code: string; message: string } | null
  created_at: string
  updated_at: string
}
interface Run {
  id: string
  user_id: string
  conversation_id: string
  agent_id: string
  status: string
  error: { code: string; message: string } | null
}
interface DueResult {
  checked_at: string
  runs: Array<{ schedule_id: string; run_id: string | null; status: string | null; error: Run['error'] }>
  rescheduled: string[]
}

let openai: FakeOpenAI
const sql = adminSql()
const SERVICE_KEY = stack.serviceRoleKey

beforeAll(async () => {
  openai = await startFakeOpenAI()
})
afterAll(async () => {
  await backgroundSettled()
  await openai.close()
  await sql.end()
  await closeSql()
})
beforeEach(() => {
  useProviders({ openai }, { defaultModel: 'openai:gpt-test' })
  // The answer names the prompt it was given, whoever asks.
  openai.respond(({ body }) => {
    const last = [...body.messages].reverse().find((message) => message.role === 'user')
    return { text: `Answering: ${String(last?.content ?? '').slice(0, 40)}` }
  })
  setRunLimitsForTests({ runsPerMinute: 0, maxActiveRuns: 50 })
})
afterEach(async () => {
  await backgroundSettled()
  setAiConfigForTests(undefined)
  setRunLimitsForTests(undefined)
})

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

const create = async (user: TestUser, body: Record<string, unknown>) =>
  expectJson<Schedule>(await call(user, 'POST', '/ai/schedules', body), 201)

/** The due check as pg_cron calls it, for these users' schedules only (other test files have theirs). */
const dueCheck = (
  users: TestUser[],
  authorization = `Bearer ${SERVICE_KEY}`,
  body: Record<string, unknown> = {},
) =>
  app.request('/ai/schedules/due', {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ user_ids: users.map((user) => user.id), ...body }),
  })

const makeDue = (id: string) =>
  sql`update public.schedules set next_run_at = now() - interval '1 minute' where id = ${id}`

const scheduleRow = async (id: string) =>
  (await sql<Schedule[]>`select * from public.schedules where id = ${id}`)[0]

const runsOfSchedule = (id: string) =>
  sql<Array<{ id: string; user_id: string; conversation_id: string; status: string }>>`
    select r.id, r.user_id, r.conversation_id, r.status from public.agent_runs r
    join public.messages m on m.id = r.trigger_message_id
    where m.metadata ->> 'schedule_id' = ${id}`

/** Local wall-clock time of an instant in a zone: 'Sun 18:00'. */
const localTime = (iso: string, zone: string) =>
  new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(iso))

const withPreferredZone = async (user: TestUser, zone: string | null) =>
  sql`update public.profiles set preferences = ${sql.json(zone ? { timezone: zone } : {})} where id = ${user.id}`

describe('schedules: create, read, change, delete', () => {
  let ada: TestUser
  let bob: TestUser
  beforeAll(async () => {
    ada = await createUser('ada')
    bob = await createUser('bob')
    await withPreferredZone(ada, 'Europe/Berlin')
  })

  it('makes a daily plan from its preset: the planner at 07:00 in the user’s time zone, with its ETag', async () => {
    const response = await call(ada, 'POST', '/ai/schedules', { kind: 'daily_plan' })
    const schedule = await expectJson<Schedule>(response, 201)
    expect(response.headers.get('etag')).toBe(`"${schedule.updated_at}"`)
    expect(schedule).toMatchObject({
      user_id: ada.id,
      kind: 'daily_plan',
      agent_id: 'planner',
      cron: '0 7 * * *',
      prompt: null,
      time_zone: null,
      next_run_time_zone: 'Europe/Berlin',
      conversation_id: null,
      enabled: true,
      last_run_id: null,
      last_error: null,
    })
    const next = schedule.next_run_at as string
    expect(localTime(next, 'Europe/Berlin')).toMatch(/ 07:00$/)
    expect(new Date(next).getTime() - Date.now()).toBeGreaterThan(0)
    expect(new Date(next).getTime() - Date.now()).toBeLessThanOrEqual(24 * 3600 * 1000)
  })

  it('makes a weekly review for Sunday 18:00, and a custom prompt in a time zone of its own', async () => {
    const review = await create(ada, { kind: 'weekly_review' })
    expect(review).toMatchObject({ agent_id: 'coordinator', cron: '0 18 * * 0' })
    expect(localTime(review.next_run_at as string, 'Europe/Berlin')).toBe('Sun 18:00')

    const custom = await create(ada, {
      kind: 'custom',
      prompt: '  Which of my goals did I neglect?  ',
      cron: '30  12 * *   MON-FRI',
      time_zone: 'America/New_York',
    })
    expect(custom).toMatchObject({
      prompt: 'Which of my goals did I neglect?',
      cron: '30 12 * * MON-FRI',
      time_zone: 'America/New_York',
      next_run_time_zone: 'America/New_York',
    })
    expect(localTime(custom.next_run_at as string, 'America/New_York')).toMatch(
      /^(Mon|Tue|Wed|Thu|Fri) 12:30$/,
    )
  })

  it('works out due times across daylight saving time: a New York morning before and after the change', async () => {
    // US daylight saving time starts between 8 and 14 March and ends between 1 and 7 November.
    const before = await create(ada, {
      kind: 'custom',
      prompt: 'Early March',
      cron: '0 7 1 3 *',
      time_zone: 'America/New_York',
    })
    const after = await create(ada, {
      kind: 'custom',
      prompt: 'Late March',
      cron: '0 7 20 3 *',
      time_zone: 'America/New_York',
    })
    expect(new Date(before.next_run_at as string).getUTCHours()).toBe(12) // EST, UTC−5
    expect(new Date(after.next_run_at as string).getUTCHours()).toBe(11) // EDT, UTC−4
    expect(localTime(before.next_run_at as string, 'America/New_York')).toMatch(/ 07:00$/)
    expect(localTime(after.next_run_at as string, 'America/New_York')).toMatch(/ 07:00$/)
    // Sydney's summer is New York's winter: the same local time, the other offset.
    const sydney = await create(ada, {
      kind: 'custom',
      prompt: 'Sydney',
      cron: '0 7 20 3 *',
      time_zone: 'Australia/Sydney',
    })
    expect(new Date(sydney.next_run_at as string).getUTCHours()).toBe(20) // AEDT, UTC+11, the evening before
  })

  it('refuses a bad cron expression, time zone, agent or conversation with 422 naming the field, storing nothing', async () => {
    const [bobsAgent] = await sql`
      insert into public.agents (user_id, name, role, goal) values (${bob.id}, 'Bob’s', 'r', 'g') returning id`
    const [bobsChat] = await sql`insert into public.conversations (user_id) values (${bob.id}) returning id`
    await call(ada, 'PUT', '/ai/agents/goal_coach', { enabled: false })
    const count = async () =>
      (await sql`select count(*)::int as n from public.schedules where user_id = ${ada.id}`)[0].n as number
    const before = await count()
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ kind: 'custom', prompt: 'x', cron: '0 0 7 * * *' }, 'cron'],
      [{ kind: 'custom', prompt: 'x', cron: '61 7 * * *' }, 'cron'],
      [{ kind: 'custom', prompt: 'x', cron: '0 0 30 2 *' }, 'cron'],
      [{ kind: 'custom', prompt: 'x', cron: '@daily' }, 'cron'],
      [{ kind: 'daily_plan', time_zone: 'Mars/Olympus_Mons' }, 'time_zone'],
      [{ kind: 'daily_plan', agent_id: 'nobody' }, 'agent_id'],
      [{ kind: 'daily_plan', agent_id: bobsAgent.id }, 'agent_id'],
      [{ kind: 'daily_plan', agent_id: 'goal_coach' }, 'agent_id'],
      [{ kind: 'daily_plan', conversation_id: bobsChat.id }, 'conversation_id'],
      [{ kind: 'custom', cron: '0 7 * * *' }, 'prompt'],
      [{ kind: 'custom', prompt: 'No time given' }, 'cron'],
      [{ kind: 'hourly' }, 'kind'],
      [{ kind: 'daily_plan', next_run_at: '2030-01-01T00:00:00Z' }, ''],
    ]
    for (const [body, path] of cases) {
      const error = await expectErrorEnvelope(
        await call(ada, 'POST', '/ai/schedules', body),
        422,
        'validation_failed',
        {
          label: JSON.stringify(body),
        },
      )
      expect(
        error.details?.map((detail) => detail.path),
        JSON.stringify(body),
      ).toContain(path)
    }
    const invalid = await app.request('/ai/schedules', {
      method: 'POST',
      headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'application/json' },
      body: '{"kind": ',
    })
    await expectErrorEnvelope(invalid, 400, 'invalid_json')
    expect(await count()).toBe(before)
    await call(ada, 'PUT', '/ai/agents/goal_coach', { enabled: true })
  })

  it('lists one’s own schedules page by page and by kind, and reads one with its ETag', async () => {
    const first = await expectJson<Page<Schedule>>(await call(ada, 'GET', '/ai/schedules?limit=2'), 200)
    expect(first.data).toHaveLength(2)
    expect(first.next_cursor).not.toBeNull()
    const rest = await expectJson<Page<Schedule>>(
      await call(
        ada,
        'GET',
        `/ai/schedules?limit=100&cursor=${encodeURIComponent(first.next_cursor as string)}`,
      ),
      200,
    )
    const all = [...first.data, ...rest.data]
    expect(new Set(all.map((s) => s.id)).size).toBe(all.length)
    expect(all.every((s) => s.user_id === ada.id)).toBe(true)
    const reviews = await expectJson<Page<Schedule>>(
      await call(ada, 'GET', '/ai/schedules?kind=weekly_review'),
      200,
    )
    expect(reviews.data.map((s) => s.kind)).toEqual(['weekly_review'])

    const response = await call(ada, 'GET', `/ai/schedules/${all[0].id}`)
    const one = await expectJson<Schedule>(response, 200)
    expect(response.headers.get('etag')).toBe(`"${one.updated_at}"`)
    expect(one).toEqual(all[0])

    const bobs = await expectJson<Page<Schedule>>(await call(bob, 'GET', '/ai/schedules'), 200)
    expect(bobs.data).toEqual([])
  })

  it('changes a schedule conditionally: If-Match, due times worked out anew, off and on again', async () => {
    const schedule = await create(ada, { kind: 'daily_plan' })
    const stale = await call(
      ada,
      'PUT',
      `/ai/schedules/${schedule.id}`,
      { cron: '0 6 * * *' },
      { 'if-match': '"2020-01-01T00:00:00Z"' },
    )
    await expectErrorEnvelope(stale, 412, 'precondition_failed')
    expect((await scheduleRow(schedule.id)).cron).toBe('0 7 * * *')

    const moved = await call(
      ada,
      'PUT',
      `/ai/schedules/${schedule.id}`,
      { cron: '15 6 * * *', time_zone: 'Asia/Tokyo' },
      {
        'if-match': `"${schedule.updated_at}"`,
      },
    )
    const changed = await expectJson<Schedule>(moved, 200)
    expect(moved.headers.get('etag')).toBe(`"${changed.updated_at}"`)
    expect(changed).toMatchObject({
      cron: '15 6 * * *',
      time_zone: 'Asia/Tokyo',
      next_run_time_zone: 'Asia/Tokyo',
    })
    expect(localTime(changed.next_run_at as string, 'Asia/Tokyo')).toMatch(/ 06:15$/)

    const off = await expectJson<Schedule>(
      await call(ada, 'PUT', `/ai/schedules/${schedule.id}`, { enabled: false }),
      200,
    )
    expect(off).toMatchObject({ enabled: false, next_run_at: null, next_run_time_zone: null })
    const on = await expectJson<Schedule>(
      await call(ada, 'PUT', `/ai/schedules/${schedule.id}`, { enabled: true, time_zone: null }),
      200,
    )
    expect(on).toMatchObject({ enabled: true, time_zone: null, next_run_time_zone: 'Europe/Berlin' })
    expect(localTime(on.next_run_at as string, 'Europe/Berlin')).toMatch(/ 06:15$/)

    // The schedule as it would be must hold; then nothing changes.
    for (const [body, path] of [
      [{ kind: 'custom' }, 'prompt'],
      [{ cron: '1 2 3' }, 'cron'],
      [{ time_zone: 'Nowhere' }, 'time_zone'],
      [{ agent_id: 'nobody' }, 'agent_id'],
    ] as const) {
      const error = await expectErrorEnvelope(
        await call(ada, 'PUT', `/ai/schedules/${schedule.id}`, body),
        422,
        'validation_failed',
      )
      expect(error.details?.map((detail) => detail.path)).toContain(path)
    }
    expect(await scheduleRow(schedule.id)).toMatchObject({
      kind: 'daily_plan',
      cron: '15 6 * * *',
      agent_id: 'planner',
    })

    const custom = await expectJson<Schedule>(
      await call(ada, 'PUT', `/ai/schedules/${schedule.id}`, { kind: 'custom', prompt: 'Plan my mornings' }),
      200,
    )
    expect(custom).toMatchObject({ kind: 'custom', prompt: 'Plan my mornings' })
  })

  it('deletes conditionally; another user’s schedule is a 404 to every route', async () => {
    const schedule = await create(ada, { kind: 'weekly_review' })
    for (const [method, path, body] of [
      ['GET', `/ai/schedules/${schedule.id}`, undefined],
      ['PUT', `/ai/schedules/${schedule.id}`, { enabled: false }],
      ['DELETE', `/ai/schedules/${schedule.id}`, undefined],
      ['POST', `/ai/schedules/${schedule.id}/run`, undefined],
    ] as const) {
      await expectErrorEnvelope(await call(bob, method, path, body), 404, 'not_found', {
        label: `${method} ${path}`,
      })
    }
    expect(await scheduleRow(schedule.id)).toMatchObject({ enabled: true, last_run_id: null })
    expect(await runsOfSchedule(schedule.id)).toEqual([])

    await expectErrorEnvelope(
      await call(ada, 'DELETE', `/ai/schedules/${schedule.id}`, undefined, {
        'if-match': '"2020-01-01T00:00:00Z"',
      }),
      412,
      'precondition_failed',
    )
    const deleted = await call(ada, 'DELETE', `/ai/schedules/${schedule.id}`, undefined, {
      'if-match': `"${schedule.updated_at}"`,
    })
    expect(deleted.status).toBe(204)
    await expectErrorEnvelope(await call(ada, 'GET', `/ai/schedules/${schedule.id}`), 404, 'not_found')
  })
})

describe('running a schedule now', () => {
  let ada: TestUser
  beforeAll(async () => {
    ada = await createUser('ada')
  })

  it('answers 202 with the run; its first run makes its conversation, later ones answer there', async () => {
    const schedule = await create(ada, { kind: 'daily_plan' })
    const run = await expectJson<Run>(await call(ada, 'POST', `/ai/schedules/${schedule.id}/run`), 202)
    expect(run).toMatchObject({ status: 'queued', agent_id: 'planner', user_id: ada.id })
    const after = await scheduleRow(schedule.id)
    expect(after).toMatchObject({
      conversation_id: run.conversation_id,
      last_run_id: run.id,
      last_error: null,
    })
    expect(after.next_run_at).toEqual(new Date(schedule.next_run_at as string))
    const [conversation] =
      await sql`select title, metadata from public.conversations where id = ${run.conversation_id}`
    expect(conversation).toMatchObject({ title: 'Daily plan', metadata: { schedule_id: schedule.id } })
    await backgroundSettled()

    const messages = await sql`
      select role, content, agent_id, metadata from public.messages
      where conversation_id = ${run.conversation_id} order by created_at, id`
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant'])
    expect(messages[0]).toMatchObject({
      content: PRESETS.daily_plan.prompt,
      metadata: { schedule_id: schedule.id, schedule_kind: 'daily_plan' },
    })
    expect(messages[1].content).toBe(`Answering: ${(PRESETS.daily_plan.prompt as string).slice(0, 40)}`)
    expect(messages[1].agent_id).toBe('planner')
    const [stored] = await sql`select status from public.agent_runs where id = ${run.id}`
    expect(stored.status).toBe('succeeded')

    const again = await expectJson<Run>(await call(ada, 'POST', `/ai/schedules/${schedule.id}/run`), 202)
    expect(again.conversation_id).toBe(run.conversation_id)
    expect((await scheduleRow(schedule.id)).last_run_id).toBe(again.id)
  })

  it('answers in a chosen conversation, and fails the run visibly without a provider', async () => {
    const [chat] =
      await sql`insert into public.conversations (user_id, title) values (${ada.id}, 'Mine') returning id`
    const schedule = await create(ada, {
      kind: 'custom',
      prompt: 'Anything due?',
      cron: '0 9 * * *',
      conversation_id: chat.id,
    })
    setAiConfigForTests(noProviders())
    const run = await expectJson<Run>(await call(ada, 'POST', `/ai/schedules/${schedule.id}/run`), 202)
    expect(run).toMatchObject({
      status: 'failed',
      conversation_id: chat.id,
      error: { code: 'provider_unavailable' },
    })
    expect(run.error?.message).toMatch(/OPENAI_API_KEY/)
    expect((await scheduleRow(schedule.id)).last_run_id).toBe(run.id)
  })

  it('is refused as a run would be when the user is at their limit (429), storing nothing', async () => {
    const schedule = await create(ada, { kind: 'daily_plan' })
    setRunLimitsForTests({ runsPerMinute: 0, maxActiveRuns: 1 })
    const [chat] = await sql`insert into public.conversations (user_id) values (${ada.id}) returning id`
    const [blocker] = await sql`
      insert into public.agent_runs (user_id, conversation_id, agent_id) values (${ada.id}, ${chat.id}, 'coordinator')
      returning id`
    await expectErrorEnvelope(
      await call(ada, 'POST', `/ai/schedules/${schedule.id}/run`),
      429,
      'rate_limited',
    )
    expect(await scheduleRow(schedule.id)).toMatchObject({ conversation_id: null, last_run_id: null })
    await sql`update public.agent_runs set status = 'cancelled', finished_at = now() where id = ${blocker.id}`
  })
})

describe('the due check', () => {
  let ada: TestUser
  let bob: TestUser
  beforeAll(async () => {
    ada = await createUser('ada')
    bob = await createUser('bob')
  })

  it('takes only the service key: a user’s token, the anon key or a wrong key is a 401 and claims nothing', async () => {
    const schedule = await create(ada, { kind: 'daily_plan' })
    await makeDue(schedule.id)
    const before = await scheduleRow(schedule.id)
    for (const [label, authorization] of [
      ['no key', ''],
      ['the user’s own token', `Bearer ${ada.token}`],
      ['the anon key', `Bearer ${stack.anonKey}`],
      ['a wrong key', `Bearer ${SERVICE_KEY.slice(0, -2)}xx`],
      ['the service key without Bearer', SERVICE_KEY],
    ]) {
      await expectErrorEnvelope(await dueCheck([ada], authorization), 401, 'unauthorized', { label })
    }
    expect(await scheduleRow(schedule.id)).toEqual(before)
    expect(await runsOfSchedule(schedule.id)).toEqual([])
    await sql`update public.schedules set enabled = false, next_run_at = null where id = ${schedule.id}`
  })

  it('claims every due schedule exactly once when checks run at the same moment', async () => {
    const schedules = [
      ...(await Promise.all([1, 2, 3].map(() => create(ada, { kind: 'daily_plan' })))),
      ...(await Promise.all([1, 2, 3].map(() => create(bob, { kind: 'weekly_review' })))),
    ]
    const notDue = await create(ada, { kind: 'custom', prompt: 'Not yet', cron: '0 9 * * *' })
    for (const schedule of schedules) await makeDue(schedule.id)

    const results = await Promise.all(
      [1, 2, 3, 4].map(async () => expectJson<DueResult>(await dueCheck([ada, bob]), 200)),
    )
    const claimed = results.flatMap((result) => result.runs.map((run) => run.schedule_id))
    expect(claimed.sort()).toEqual(schedules.map((s) => s.id).sort())
    expect(
      results.flatMap((result) => result.runs).every((run) => run.status === 'queued' && run.error === null),
    ).toBe(true)
    await backgroundSettled()

    for (const schedule of schedules) {
      const runs = await runsOfSchedule(schedule.id)
      expect(runs, schedule.id).toHaveLength(1)
      const after = await scheduleRow(schedule.id)
      // Each run is its owner's, in the schedule's own conversation, and next_run_at has moved on.
      expect(runs[0]).toMatchObject({
        user_id: schedule.user_id,
        status: 'succeeded',
        conversation_id: after.conversation_id,
      })
      expect(after.last_run_id).toBe(runs[0].id)
      expect(after.next_run_at?.valueOf()).toBeGreaterThan(Date.now())
    }
    expect(await runsOfSchedule(notDue.id)).toEqual([])

    // Nothing is due any more.
    expect((await expectJson<DueResult>(await dueCheck([ada, bob]), 200)).runs).toEqual([])
  })

  it('moves a due schedule to the cron’s next time in its zone, across the next daylight saving change', async () => {
    const schedule = await create(ada, {
      kind: 'custom',
      prompt: 'Spring',
      cron: '0 7 20 3 *',
      time_zone: 'America/New_York',
    })
    await makeDue(schedule.id)
    await expectJson<DueResult>(await dueCheck([ada]), 200)
    const after = await scheduleRow(schedule.id)
    const expected = nextOccurrence('0 7 20 3 *', 'America/New_York', new Date())
    expect(after.next_run_at).toEqual(expected)
    expect((after.next_run_at as unknown as Date).getUTCHours()).toBe(11)
  })

  it('runs as the owner under their RLS: the agent’s tools see only the owner’s rows, and record the agent', async () => {
    await sql`insert into public.tasks (user_id, title, due_date) values (${ada.id}, 'Ada’s own task', current_date)`
    await sql`insert into public.tasks (user_id, title, due_date) values (${bob.id}, 'Bob’s secret task', current_date)`
    const schedule = await create(ada, {
      kind: 'custom',
      prompt: 'Sort out my tasks for today',
      cron: '0 7 * * *',
      agent_id: 'task_manager',
    })
    await makeDue(schedule.id)
    openai.reply(
      {
        toolCalls: [
          { name: 'list_tasks', args: {} },
          { name: 'create_task', args: { title: 'Planned by the schedule' } },
        ],
      },
      { text: 'Your plan is ready.' },
    )
    const result = await expectJson<DueResult>(await dueCheck([ada]), 200)
    const [started] = result.runs
    await backgroundSettled()
    const steps = await sql<Array<{ name: string; output: Record<string, unknown> }>>`
      select name, output from public.agent_run_steps where run_id = ${started.run_id} and kind = 'tool_call' order by position`
    expect(steps.map((step) => step.name)).toEqual(['list_tasks', 'create_task'])
    expect(JSON.stringify(steps[0].output)).toContain('Ada’s own task')
    expect(JSON.stringify(steps[0].output)).not.toContain('Bob’s secret task')
    const [task] = await sql`select user_id, source, source_reference from public.tasks
                where title = 'Planned by the schedule' and source_reference->>'run_id' = ${started.run_id}`
    expect(task).toMatchObject({
      user_id: ada.id,
      source: 'agent',
      source_reference: { agent_id: 'task_manager', run_id: started.run_id },
    })
    const [answer] = await sql`
      select content, agent_id from public.messages where conversation_id = (
        select conversation_id from public.schedules where id = ${schedule.id}) and role = 'assistant'`
    expect(answer).toMatchObject({ content: 'Your plan is ready.', agent_id: 'task_manager' })
  })

  it('fails the run visibly without a provider, and keeps why a run could not start', async () => {
    const noProvider = await create(ada, { kind: 'weekly_review' })
    await makeDue(noProvider.id)
    setAiConfigForTests(noProviders())
    const [failed] = (await expectJson<DueResult>(await dueCheck([ada]), 200)).runs
    expect(failed).toMatchObject({
      schedule_id: noProvider.id,
      status: 'failed',
      error: { code: 'provider_unavailable' },
    })
    const run = await expectJson<Run>(await call(ada, 'GET', `/ai/runs/${failed.run_id}`), 200)
    expect(run).toMatchObject({ status: 'failed', error: { code: 'provider_unavailable' } })
    expect((await scheduleRow(noProvider.id)).last_run_id).toBe(failed.run_id)

    // At the user's limit of runs at once: no run, the reason kept, the schedule moved on all the same.
    useProviders({ openai }, { defaultModel: 'openai:gpt-test' })
    setRunLimitsForTests({ runsPerMinute: 0, maxActiveRuns: 1 })
    const limited = await create(ada, { kind: 'daily_plan' })
    const [chat] = await sql`insert into public.conversations (user_id) values (${ada.id}) returning id`
    const [blocker] = await sql`
      insert into public.agent_runs (user_id, conversation_id, agent_id) values (${ada.id}, ${chat.id}, 'coordinator')
      returning id`
    await makeDue(limited.id)
    const [refused] = (await expectJson<DueResult>(await dueCheck([ada]), 200)).runs
    expect(refused).toMatchObject({ schedule_id: limited.id, run_id: null, error: { code: 'rate_limited' } })
    const after = await scheduleRow(limited.id)
    expect(after).toMatchObject({
      last_run_id: null,
      conversation_id: null,
      last_error: { code: 'rate_limited' },
    })
    expect(after.next_run_at?.valueOf()).toBeGreaterThan(Date.now())
    await sql`update public.agent_runs set status = 'cancelled', finished_at = now() where id = ${blocker.id}`

    // Its agent turned off: a conflict, kept; the next run that starts clears it.
    await call(ada, 'PUT', '/ai/agents/planner', { enabled: false })
    await makeDue(limited.id)
    const [conflict] = (await expectJson<DueResult>(await dueCheck([ada]), 200)).runs
    expect(conflict.error?.code).toBe('conflict')
    expect((await scheduleRow(limited.id)).last_error?.code).toBe('conflict')
    await call(ada, 'PUT', '/ai/agents/planner', { enabled: true })
    await makeDue(limited.id)
    const [ok] = (await expectJson<DueResult>(await dueCheck([ada]), 200)).runs
    expect(ok.status).toBe('queued')
    expect((await scheduleRow(limited.id)).last_error).toBeNull()
  })

  it('follows the user’s time zone: after a move, a due time still ahead in the new zone only moves there', async () => {
    await withPreferredZone(bob, 'Europe/Berlin')
    const schedule = await create(bob, { kind: 'daily_plan' })
    expect(schedule.next_run_time_zone).toBe('Europe/Berlin')
    await withPreferredZone(bob, 'America/Los_Angeles')
    await makeDue(schedule.id)
    const result = await expectJson<DueResult>(await dueCheck([bob]), 200)
    const after = await scheduleRow(schedule.id)
    const losAngeles = nextOccurrence(
      '0 7 * * *',
      'America/Los_Angeles',
      new Date(schedule.created_at),
    ) as Date
    if (losAngeles > new Date()) {
      expect(result).toMatchObject({ runs: [], rescheduled: [schedule.id] })
      expect(after.next_run_at).toEqual(losAngeles)
    } else {
      expect(result.runs.map((run) => run.schedule_id)).toEqual([schedule.id])
    }
    expect(after.next_run_time_zone).toBe('America/Los_Angeles')
    expect(localTime((after.next_run_at as unknown as Date).toISOString(), 'America/Los_Angeles')).toMatch(
      / 07:00$/,
    )
    await withPreferredZone(bob, null)
  })

  it('turns off a schedule whose cron was written past the API, saying why', async () => {
    const schedule = await create(ada, { kind: 'daily_plan' })
    await sql`update public.schedules set cron = '0 0 31 2 *', next_run_at = now() - interval '1 minute' where id = ${schedule.id}`
    const result = await expectJson<DueResult>(await dueCheck([ada]), 200)
    expect(result).toMatchObject({ runs: [], rescheduled: [schedule.id] })
    expect(await scheduleRow(schedule.id)).toMatchObject({
      enabled: false,
      next_run_at: null,
      last_error: { code: 'validation_failed' },
    })
  })
})

describe('the due check’s way into withUser stays server-side', () => {
  it('a scheduled run’s grant works for its owner until it expires, and for no one else', async () => {
    const ada = await createUser('ada')
    const bob = await createUser('bob')
    const schedule = await create(ada, { kind: 'daily_plan' })
    await makeDue(schedule.id)
    setAiConfigForTests(noProviders())
    await expectJson<DueResult>(await dueCheck([ada]), 200)
    const [grant] = await sql<Array<{ id: string; expires_at: Date }>>`
      select id, expires_at from private.schedule_grants where schedule_id = ${schedule.id}`
    expect(grant.expires_at.valueOf()).toBeGreaterThan(Date.now())

    const claims = (sub: string) => ({
      sub,
      role: 'authenticated',
      aud: 'authenticated',
      session_id: grant.id,
    })
    const whoAmI = (sub: string) =>
      withUser(userContext(claims(sub)), async (tx) => (await tx`select auth.uid() as id`)[0].id as string)
    expect(await whoAmI(ada.id)).toBe(ada.id)
    await expect(whoAmI(bob.id)).rejects.toMatchObject({ code: 'CS401' })
    await sql`update private.schedule_grants set created_at = now() - interval '1 hour', expires_at = now() - interval '1 second' where id = ${grant.id}`
    await expect(whoAmI(ada.id)).rejects.toMatchObject({ code: 'CS401' })
  })

  it('a user’s token still needs a live session: signed out, it is refused on the schedule routes', async () => {
    const leaver = await createUser('leaver')
    const schedule = await create(leaver, { kind: 'daily_plan' })
    const signOut = await fetch(`${stack.apiUrl}/auth/v1/logout?scope=local`, {
      method: 'POST',
      headers: { apikey: stack.anonKey, authorization: `Bearer ${leaver.token}` },
    })
    expect(signOut.status).toBe(204)
    for (const [method, path, body] of [
      ['GET', '/ai/schedules', undefined],
      ['PUT', `/ai/schedules/${schedule.id}`, { enabled: false }],
      ['POST', `/ai/schedules/${schedule.id}/run`, undefined],
    ] as const) {
      await expectErrorEnvelope(await call(leaver, method, path, body), 401, 'unauthorized', { label: path })
    }
    expect(await scheduleRow(schedule.id)).toMatchObject({ enabled: true, last_run_id: null })
  })
})
