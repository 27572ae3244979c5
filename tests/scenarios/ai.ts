import type postgres from 'postgres'
import { describe, expect, it } from 'vitest'
import { expectJson, type Page, type Target, walkPages } from '../helpers/domain.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import type { SecuritySuiteOptions } from '../helpers/security.ts'
import type { TestUser } from '../helpers/stack.ts'
import { twoUsers } from '../helpers/stack.ts'

export interface Agent {
  id: string
  kind: 'builtin' | 'custom'
  name: string
  description: string | null
  role: string
  goal: string
  backstory: string | null
  instructions: string | null
  tools: string[]
  model: string | null
  temperature: number
  enabled: boolean
  delegates_to: string[]
  created_at: string | null
  updated_at: string | null
}

const CREW = ['coordinator', 'planner', 'task_manager', 'goal_coach', 'reflection_coach', 'knowledge']

async function agentOf(owner: TestUser, sql: postgres.Sql) {
  const [{ id }] = await sql`
    insert into public.agents (user_id, name, role, goal) values (${owner.id}, 'Victim’s agent', 'helper', 'help')
    returning id`
  return { id }
}

async function runOf(owner: TestUser, sql: postgres.Sql) {
  const [conversation] = await sql`
    insert into public.conversations (user_id, title) values (${owner.id}, 'victim’s chat') returning id`
  const [message] = await sql`
    insert into public.messages (user_id, conversation_id, role, content)
    values (${owner.id}, ${conversation.id}, 'user', 'victim’s question') returning id`
  const [{ id }] = await sql`
    insert into public.agent_runs (user_id, conversation_id, trigger_message_id, agent_id)
    values (${owner.id}, ${conversation.id}, ${message.id}, 'coordinator') returning id`
  return { id }
}

async function documentOf(owner: TestUser, sql: postgres.Sql) {
  const [{ id }] = await sql`
    insert into public.documents (user_id, title, checksum, status, content)
    values (${owner.id}, 'victim’s document', ${crypto.randomUUID().replaceAll('-', '').repeat(2)}, 'ready',
            'victim’s secret text')
    returning id`
  return { id }
}

/** A run of the victim's waiting for approval of a delete, with its kept state. */
async function waitingRunOf(owner: TestUser, sql: postgres.Sql) {
  const { id } = await runOf(owner, sql)
  const actionId = crypto.randomUUID()
  await sql`update public.agent_runs set status = 'running', started_at = now() where id = ${id}`
  await sql`update public.agent_runs set status = 'awaiting_approval' where id = ${id}`
  await sql`
    insert into public.agent_run_steps (id, user_id, run_id, position, kind, name, agent_id, started_at, finished_at)
    values (${actionId}, ${owner.id}, ${id}, 0, 'tool_call', 'delete_task', 'task_manager', now(), now())`
  await sql`
    insert into public.agent_run_approvals (id, user_id, run_id, position, tool_call_id, tool, agent_id, reason,
                                            summary, change)
    values (${actionId}, ${owner.id}, ${id}, 0, 'call_1', 'delete_task', 'task_manager', 'delete',
            'Delete the task “victim’s”', '{"operation": "delete", "table": "tasks", "count": 1, "rows": []}')`
  await sql`insert into public.agent_run_pauses (user_id, run_id, state) values (${owner.id}, ${id}, '{"version": 1}')`
  return { id }
}

/** A schedule of the owner's that is due: a due check let through would claim it. */
async function scheduleOf(owner: TestUser, sql: postgres.Sql) {
  const [{ id }] = await sql`
    insert into public.schedules (user_id, kind, agent_id, cron, next_run_at, next_run_time_zone)
    values (${owner.id}, 'daily_plan', 'planner', '0 7 * * *', now() - interval '1 minute', 'UTC')
    returning id`
  return { id }
}

/** A finished run of the victim's with one traced change (a task its agent made), to undo. */
async function undoableRunOf(owner: TestUser, sql: postgres.Sql) {
  const { id } = await runOf(owner, sql)
  const [task] = await sql`
    insert into public.tasks (user_id, title) values (${owner.id}, 'victim’s task') returning *`
  await sql`
    update public.agent_runs set status = 'succeeded', started_at = now(), finished_at = now() where id = ${id}`
  await sql`
    insert into public.agent_run_actions (user_id, run_id, table_name, row_id, operation, after)
    values (${owner.id}, ${id}, 'tasks', ${task.id}, 'insert', ${sql.json(task)})`
  return { id }
}

/** What the shared security suite needs for the ai function. */
export const aiSecurity: Omit<SecuritySuiteOptions, 'app'> = {
  name: 'ai',
  // Called by the platform with the service-role key, which the suite offers as a bad token:
  // tests/integration/knowledge-drain.test.ts checks that users' tokens and forgeries get 401.
  publicRoutes: ['POST /ai/knowledge/drain-due'],
  fixtures: {
    '/ai/agents/{id}': agentOf,
    '/ai/runs/{id}': runOf,
    '/ai/runs/{id}/cancel': runOf,
    '/ai/runs/{id}/approval': waitingRunOf,
    '/ai/schedules/{id}': scheduleOf,
    '/ai/schedules/{id}/run': scheduleOf,
    '/ai/runs/{id}/undo': undoableRunOf,
    '/ai/documents/{id}': documentOf,
    '/ai/documents/{id}/reindex': documentOf,
  },
  serviceRoutes: ['POST /ai/schedules/due'],
  bodies: {
    'POST /ai/agents': { name: 'pwned', role: 'pwned', goal: 'pwned' },
    'PUT /ai/agents/{id}': { name: 'pwned', enabled: false },
    'POST /ai/runs': { conversation_id: crypto.randomUUID(), content: 'pwned' },
    'POST /ai/runs/{id}/approval': { decisions: [{ action_id: crypto.randomUUID(), approve: true }] },
    'POST /ai/schedules': { kind: 'daily_plan' },
    'PUT /ai/schedules/{id}': { enabled: false, cron: '* * * * *' },
    'POST /ai/runs/{id}/undo': { force: true },
    'POST /ai/documents/process': { title: 'pwned', text: 'pwned' },
    'POST /ai/rag/query': { query: 'victim secret text', k: 50 },
    // Not an image it can decode: refused (422) before any OCR runs.
    'POST /ai/transcribe': { content_base64: 'cHduZWQ=', mime_type: 'image/png', as_note: true },
    'POST /ai/knowledge/drain': {},
  },
}

/** The agent registry: the built-in crew, a user's settings of it and their own agents. */
export function agentScenarios({ name, api }: Target) {
  describe(`ai agents (${name})`, () => {
    const { sql, ada, bob } = twoUsers()

    const create = async (user: TestUser, body: Record<string, unknown>) =>
      expectJson<Agent>(await api('POST', '/ai/agents', { user, body }), 201)
    const get = async (user: TestUser, id: string) =>
      expectJson<Agent>(await api('GET', `/ai/agents/${id}`, { user }), 200)
    const rowsOf = async (user: TestUser) =>
      (await sql`select count(*)::int as n from public.agents where user_id = ${user.id}`)[0].n as number

    it('lists the built-in crew first, coordinator leading, as shipped', async () => {
      const page = await expectJson<Page<Agent>>(
        await api('GET', '/ai/agents?kind=builtin', { user: ada }),
        200,
      )
      expect(page.data.map((agent) => agent.id)).toEqual(CREW)
      expect(page.next_cursor).toBeNull()
      const coordinator = page.data[0]
      expect(coordinator).toMatchObject({
        kind: 'builtin',
        name: 'Coordinator',
        enabled: true,
        model: null,
        instructions: null,
        updated_at: null,
        delegates_to: CREW.slice(1),
      })
      expect(coordinator.role.length).toBeGreaterThan(0)
      expect(coordinator.tools).toContain('list_tasks')
    })

    it('creates an agent of one’s own with its ETag, and lists it after the crew, page by page', async () => {
      const response = await api('POST', '/ai/agents', {
        user: ada,
        body: {
          name: 'Editor',
          role: 'Copy editor',
          goal: 'Tighten my notes',
          tools: ['list_notes', 'read_note'],
          model: 'anthropic:claude-sonnet-4-5',
          temperature: 0.4,
        },
      })
      const editor = await expectJson<Agent>(response, 201)
      expect(response.headers.get('etag')).toBe(`"${editor.updated_at}"`)
      expect(editor).toMatchObject({
        kind: 'custom',
        name: 'Editor',
        description: null,
        backstory: null,
        tools: ['list_notes', 'read_note'],
        model: 'anthropic:claude-sonnet-4-5',
        temperature: 0.4,
        enabled: true,
        delegates_to: [],
      })
      const second = await create(ada, { name: 'Second', role: 'r', goal: 'g' })
      expect(second.temperature).toBe(0.3)
      const all = await walkPages<Agent>(api, '/ai/agents?limit=4', ada)
      expect(all.map((agent) => agent.id)).toEqual([...CREW, editor.id, second.id])
      const own = await expectJson<Page<Agent>>(
        await api('GET', '/ai/agents?kind=custom', { user: ada }),
        200,
      )
      expect(own.data.map((agent) => agent.id)).toEqual([editor.id, second.id])
      expect(await get(ada, editor.id)).toEqual(editor)
    })

    it('refuses a second agent of the same name (any case) with 409, and bad fields with 422', async () => {
      await create(ada, { name: 'Twin', role: 'r', goal: 'g' })
      await expectErrorEnvelope(
        await api('POST', '/ai/agents', { user: ada, body: { name: 'twin', role: 'r', goal: 'g' } }),
        409,
        'conflict',
      )
      const invalid = await expectErrorEnvelope(
        await api('POST', '/ai/agents', {
          user: ada,
          body: { name: '', role: 'r', goal: 'g', tools: ['rm_rf'], model: 'gpt-4', temperature: 3 },
        }),
        422,
        'validation_failed',
      )
      expect(invalid.details?.map((detail) => detail.path).sort()).toEqual([
        'model',
        'name',
        'temperature',
        'tools.0',
      ])
      // Bob may use the name Ada has.
      await create(bob, { name: 'Twin', role: 'r', goal: 'g' })
    })

    it('configures a built-in’s settings only, with ETag and If-Match, and puts them back with null', async () => {
      const before = await rowsOf(ada)
      const refused = await expectErrorEnvelope(
        await api('PUT', '/ai/agents/planner', { user: ada, body: { name: 'Boss', tools: [] } }),
        422,
        'validation_failed',
      )
      expect(refused.details?.map((detail) => detail.path)).toEqual(['name', 'tools'])
      expect(await rowsOf(ada)).toBe(before)

      const response = await api('PUT', '/ai/agents/planner', {
        user: ada,
        body: { model: 'openai:gpt-4.1', temperature: 0.9, instructions: 'Mornings are for deep work.' },
      })
      const planner = await expectJson<Agent>(response, 200)
      expect(planner).toMatchObject({
        id: 'planner',
        kind: 'builtin',
        name: 'Planner',
        model: 'openai:gpt-4.1',
        temperature: 0.9,
        instructions: 'Mornings are for deep work.',
        enabled: true,
      })
      const etag = response.headers.get('etag') as string
      expect(etag).toBe(`"${planner.updated_at}"`)
      expect(await rowsOf(ada)).toBe(before + 1)

      const disabled = await expectJson<Agent>(
        await api('PUT', '/ai/agents/planner', {
          user: ada,
          body: { enabled: false, model: null },
          headers: { 'if-match': etag },
        }),
        200,
      )
      expect(disabled).toMatchObject({ enabled: false, model: null, temperature: 0.9 })
      await expectErrorEnvelope(
        await api('PUT', '/ai/agents/planner', {
          user: ada,
          body: { enabled: true },
          headers: { 'if-match': etag },
        }),
        412,
        'precondition_failed',
      )
      const enabledOnly = await expectJson<Page<Agent>>(
        await api('GET', '/ai/agents?kind=builtin&enabled=false', { user: ada }),
        200,
      )
      expect(enabledOnly.data.map((agent) => agent.id)).toEqual(['planner'])
      // Bob's planner is untouched.
      expect(await get(bob, 'planner')).toMatchObject({ enabled: true, model: null, updated_at: null })
    })

    it('refuses to delete a built-in (409), deletes one’s own with If-Match, and 404s what is not there', async () => {
      await expectErrorEnvelope(await api('DELETE', '/ai/agents/coordinator', { user: ada }), 409, 'conflict')
      const mine = await create(ada, { name: 'Short-lived', role: 'r', goal: 'g' })
      await expectErrorEnvelope(
        await api('DELETE', `/ai/agents/${mine.id}`, {
          user: ada,
          headers: { 'if-match': '"2000-01-01T00:00:00Z"' },
        }),
        412,
        'precondition_failed',
      )
      const deleted = await api('DELETE', `/ai/agents/${mine.id}`, {
        user: ada,
        headers: { 'if-match': `"${mine.updated_at}"` },
      })
      expect(deleted.status).toBe(204)
      await expectErrorEnvelope(await api('GET', `/ai/agents/${mine.id}`, { user: ada }), 404, 'not_found')
      await expectErrorEnvelope(await api('GET', '/ai/agents/no_such_agent', { user: ada }), 404, 'not_found')
      await expectErrorEnvelope(
        await api('GET', '/ai/agents/Not-An-Id!', { user: ada }),
        422,
        'validation_failed',
      )
    })

    it('changes one’s own agent’s fields and tools, and never another user’s', async () => {
      const mine = await create(ada, { name: 'Mine', role: 'r', goal: 'g', tools: ['list_tasks'] })
      const changed = await expectJson<Agent>(
        await api('PUT', `/ai/agents/${mine.id}`, {
          user: ada,
          body: { goal: 'Better goal', tools: ['create_task', 'list_tasks'], backstory: 'Long ago…' },
        }),
        200,
      )
      expect(changed).toMatchObject({
        name: 'Mine',
        goal: 'Better goal',
        tools: ['create_task', 'list_tasks'],
        backstory: 'Long ago…',
      })
      await expectErrorEnvelope(
        await api('PUT', `/ai/agents/${mine.id}`, { user: bob, body: { name: 'Stolen' } }),
        404,
        'not_found',
      )
      await expectErrorEnvelope(await api('DELETE', `/ai/agents/${mine.id}`, { user: bob }), 404, 'not_found')
      expect((await get(ada, mine.id)).name).toBe('Mine')
    })

    it('lists the configured providers and models, never a key', async () => {
      const response = await api('GET', '/ai/models', { user: ada })
      const catalog = await expectJson<{
        default_model: string | null
        providers: Array<{ id: string; configured: boolean; variables: string[]; models: string[] }>
      }>(response, 200)
      expect(catalog.providers.map((provider) => provider.id)).toEqual([
        'openai',
        'anthropic',
        'xai',
        'openrouter',
        'openai-compatible',
      ])
      expect(catalog.providers.find((provider) => provider.id === 'anthropic')?.variables).toContain(
        'ANTHROPIC_API_KEY',
      )
      const text = JSON.stringify(catalog)
      for (const key of [process.env.OPENAI_API_KEY, process.env.ANTHROPIC_API_KEY].filter(Boolean))
        expect(text).not.toContain(key)
    })
  })
}
