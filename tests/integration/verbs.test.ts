import type postgres from 'postgres'
import { afterAll, describe, expect } from 'vitest'
import {
  createConversation,
  createMessage,
  listMessages,
  recordAgentMessage,
} from '../../shared/chat/service.ts'
import { agentContext, type ServiceContext, userContext } from '../../shared/core/context.ts'
import { DomainError } from '../../shared/core/errors.ts'
import { closeSql } from '../../shared/db/client.ts'
import { verifyAccessToken } from '../../shared/http/require-user.ts'
import { createNote, listNotes, updateNote } from '../../shared/notes/service.ts'
import { createGoal, createReflection } from '../../shared/planning/service.ts'
import { createTask, listTasks, updateTask } from '../../shared/tasks/service.ts'
import { it } from '../helpers/fixtures.ts'
import type { TestUser } from '../helpers/stack.ts'

// The verbs called as an agent's tool calls them: no HTTP, input as JSON, the actor in the context.

afterAll(() => closeSql())

const run = { agentId: 'task-manager', runId: crypto.randomUUID(), messageId: crypto.randomUUID() }
const asUser = async (user: TestUser): Promise<ServiceContext> =>
  userContext(await verifyAccessToken(user.token))
/** The agent's context in a run of the user's (an agent's changes are traced under a run that must exist). */
async function asAgent(user: TestUser, sql: postgres.Sql): Promise<ServiceContext> {
  const [made] = await sql`select 1 from public.agent_runs where id = ${run.runId}`
  if (!made) {
    const [conversation] =
      await sql`insert into public.conversations (user_id) values (${user.id}) returning id`
    await sql`
      insert into public.agent_runs (id, user_id, conversation_id, agent_id)
      values (${run.runId}, ${user.id}, ${conversation.id}, ${run.agentId})`
  }
  return agentContext(await verifyAccessToken(user.token), run)
}

/** The error a call failed with. */
async function failure(call: Promise<unknown>): Promise<DomainError> {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  )
  expect(error).toBeInstanceOf(DomainError)
  return error as DomainError
}

describe('verbs called directly', () => {
  it('validate their input with the routes’ schemas: validation_failed with one detail per problem', async ({
    sql,
    ada,
  }) => {
    const ctx = await asUser(ada)
    const error = await failure(
      createTask({ ctx, input: { title: '', priority: 'soon', colour: 'red' } as never }),
    )
    expect(error.code).toBe('validation_failed')
    expect(error.status).toBe(422)
    expect(error.details?.map((detail) => detail.path).sort()).toEqual(['', 'priority', 'title'])
    const [{ count }] = await sql`select count(*)::int from public.tasks where user_id = ${ada.id}`
    expect(count).toBe(0)
  })

  it('refuse an update of a row by a made-up id as not found, and a malformed id as invalid', async ({
    ada,
  }) => {
    const ctx = await asUser(ada)
    const missing = await failure(
      updateTask({ ctx, input: { id: crypto.randomUUID(), changes: { title: 'x' } } }),
    )
    expect(missing.code).toBe('not_found')
    const malformed = await failure(updateTask({ ctx, input: { id: 'task-1', changes: {} } }))
    expect(malformed.details).toEqual([{ path: 'id', message: expect.any(String) }])
  })

  it('take list filters as JSON (booleans, arrays, numbers) as well as query-string text', async ({
    ada,
  }) => {
    const ctx = await asUser(ada)
    await createNote({ ctx, input: { title: 'Pinned', is_pinned: true } })
    await createNote({ ctx, input: { title: 'Loose' } })
    const pinned = await listNotes({ ctx, input: { is_pinned: true, limit: 10 } })
    expect(pinned.data.map((note) => note.title)).toEqual(['Pinned'])
    const asText = await listNotes({ ctx, input: { is_pinned: 'false', limit: '10' } as never })
    expect(asText.data.map((note) => note.title)).toEqual(['Loose'])
    await createTask({ ctx, input: { title: 'Urgent one', priority: 'urgent' } })
    const urgent = await listTasks({ ctx, input: { priority: ['urgent', 'high'], sort: 'priority' } })
    expect(urgent.data.map((task) => task.title)).toEqual(['Urgent one'])
    const bad = await failure(listTasks({ ctx, input: { status: ['someday'] } as never }))
    expect(bad.details?.[0].path).toBe('status.0')
  })

  it('record an agent actor on what it creates: the agent, the run and the message', async ({ sql, ada }) => {
    const ctx = await asAgent(ada, sql)
    const task = await createTask({ ctx, input: { title: 'Call the plumber' } })
    const note = await createNote({ ctx, input: { title: 'Plumbing' } })
    const goal = await createGoal({ ctx, input: { title: 'Fix the house', timeframe: 'yearly' } })
    const reflection = await createReflection({
      ctx,
      input: { reflection_type: 'daily', content: 'Calm day' },
    })
    const reference = { agent_id: run.agentId, run_id: run.runId, message_id: run.messageId }
    expect(task).toMatchObject({ source: 'agent', source_reference: reference, edited_by_user: false })
    for (const [table, id] of [
      ['notes', note.id],
      ['goals', goal.id],
      ['reflections', reflection.id],
    ]) {
      const [row] =
        await sql`select source, source_reference, edited_by_user from ${sql(table)} where id = ${id}`
      expect(row, table).toEqual({ source: 'agent', source_reference: reference, edited_by_user: false })
    }
  })

  it('set edited_by_user only for the user’s own edits, never for an agent’s', async ({ sql, ada }) => {
    const agent = await asAgent(ada, sql)
    const note = await createNote({ ctx: agent, input: { title: 'Draft' } })
    await updateNote({ ctx: agent, input: { id: note.id, changes: { title: 'Draft 2' } } })
    const edited = async () =>
      (await sql`select edited_by_user from public.notes where id = ${note.id}`)[0].edited_by_user
    expect(await edited()).toBe(false)
    await updateNote({ ctx: await asUser(ada), input: { id: note.id, changes: { title: 'Mine now' } } })
    expect(await edited()).toBe(true)
    // The user's own note is theirs by hand: no agent named.
    const byHand = await createNote({ ctx: await asUser(ada), input: { title: 'By hand' } })
    const [manual] = await sql`select source, source_reference from public.notes where id = ${byHand.id}`
    expect(manual).toEqual({ source: 'manual', source_reference: null })
  })

  it('let an agent write its answer through the private function, and only into the user’s conversations', async ({
    sql,
    ada,
    bob,
  }) => {
    const user = await asUser(ada)
    const agent = await asAgent(ada, sql)
    const conversation = await createConversation({ ctx: user, input: {} })
    const asked = await createMessage({
      ctx: user,
      input: { conversation_id: conversation.id, content: 'Sort my week', agent_id: 'planner' },
    })
    const answer = await recordAgentMessage({
      ctx: agent,
      input: {
        conversation_id: conversation.id,
        role: 'assistant',
        content: 'Done',
        metadata: { run_id: run.runId },
      },
    })
    expect(answer).toMatchObject({ role: 'assistant', agent_id: run.agentId, user_id: ada.id })
    const [stored] = await sql`select agent_id, addressee from public.messages where id = ${asked.id}`
    expect(stored).toEqual({ agent_id: null, addressee: 'planner' })
    const listed = await listMessages({ ctx: user, input: { id: conversation.id } })
    expect(listed.data.map((message) => message.role)).toEqual(['user', 'assistant'])

    const theirs = await createConversation({
      ctx: userContext(await verifyAccessToken(bob.token)),
      input: {},
    })
    const refused = await failure(
      recordAgentMessage({
        ctx: agent,
        input: { conversation_id: theirs.id, role: 'assistant', content: 'x' },
      }),
    )
    expect(refused.code).toBe('not_found')
    const notAnAgent = await failure(
      recordAgentMessage({
        ctx: user,
        input: { conversation_id: conversation.id, role: 'assistant', content: 'x' },
      }),
    )
    expect(notAnAgent.code).toBe('validation_failed')
    const [{ count }] =
      await sql`select count(*)::int from public.messages where conversation_id = ${theirs.id}`
    expect(count).toBe(0)
  })
})
