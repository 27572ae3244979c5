import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { SignJWT } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect } from 'vitest'
import { app as aiApp } from '../../functions/ai/app.ts'
import { app as notesApp } from '../../functions/notes/app.ts'
import { setAiConfigForTests } from '../../shared/config.ts'
import { closeSql } from '../../shared/db/client.ts'
import { backgroundSettled } from '../../shared/knowledge/background.ts'
import { MAX_ATTEMPTS } from '../../shared/knowledge/indexing.ts'
import { noProviders } from '../helpers/ai.ts'
import { expectJson, paragraph } from '../helpers/domain.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { type FakeEmbeddings, startFakeEmbeddings } from '../helpers/fake-embeddings.ts'
import { it } from '../helpers/fixtures.ts'
import { createUser, stack, type TestUser } from '../helpers/stack.ts'

// Notes are indexed without anyone asking (docs/adr/0032): the notes function, having answered a
// save, hands the user's token to the ai function's POST ai/knowledge/drain; the periodic POST
// ai/knowledge/drain-due (service-role key only) drains every user with due work (retries, notes
// written elsewhere, a model change), each as that user. Here both apps run in process and the ai
// app is also served on a loopback port (AI_FUNCTION_URL), which the notes app's hand-off calls.

let server: ReturnType<typeof serve>
let embeddings: FakeEmbeddings
beforeAll(async () => {
  embeddings = await startFakeEmbeddings()
  setAiConfigForTests(noProviders())
  server = serve({ fetch: aiApp.fetch, port: 0, hostname: '127.0.0.1' })
  await new Promise((resolve) => server.once('listening', resolve))
  process.env.AI_FUNCTION_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ai`
})
afterEach(async () => {
  await backgroundSettled()
  setAiConfigForTests(noProviders())
})
afterAll(async () => {
  await backgroundSettled()
  delete process.env.AI_FUNCTION_URL
  await new Promise((resolve) => server.close(resolve))
  await embeddings.close()
  setAiConfigForTests(undefined)
  await closeSql()
})

const json = (token: string | undefined, body: unknown = {}) => ({
  method: 'POST',
  headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
  body: JSON.stringify(body),
})

const search = async (user: TestUser, query: string) =>
  (
    await expectJson<{ passages: Array<{ content: string; citation: { note_id: string | null } }> }>(
      await aiApp.request('/ai/rag/query', json(user.token, { query, filters: { sources: ['notes'] } })),
      200,
    )
  ).passages

const noteChunks = (sql: import('postgres').Sql, noteId: string) =>
  sql`select content, embedding_model from public.document_chunks where note_id = ${noteId} order by chunk_index`

/** Polls until `condition` holds (the hand-off and its drain run after the save's response). */
async function until(condition: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('not within the time allowed')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Runs `body` with AI_FUNCTION_URL at a stand-in that answers with `answer`; then puts it back. */
async function withAiFunction(
  answer: (request: Request) => Response | Promise<Response>,
  body: () => Promise<void>,
): Promise<void> {
  const standIn = serve({ fetch: answer, port: 0, hostname: '127.0.0.1' })
  await new Promise((resolve) => standIn.once('listening', resolve))
  const direct = process.env.AI_FUNCTION_URL
  process.env.AI_FUNCTION_URL = `http://127.0.0.1:${(standIn.address() as AddressInfo).port}/ai`
  try {
    await body()
  } finally {
    await backgroundSettled()
    process.env.AI_FUNCTION_URL = direct
    await new Promise((resolve) => standIn.close(resolve))
  }
}

const drainDue = (token: string | undefined, userIds: string[]) =>
  aiApp.request('/ai/knowledge/drain-due', json(token, { user_ids: userIds }))

describe('a saved note is indexed without anyone asking', () => {
  it('the notes function hands the save to POST ai/knowledge/drain after answering: the note becomes searchable', {
    timeout: 60_000,
  }, async ({ sql, ada }) => {
    const saved = await notesApp.request(
      '/notes',
      json(ada.token, {
        title: 'Hive',
        content: [paragraph('h1', 'The bees swarm in late May from the oak hive.')],
      }),
    )
    const note = await expectJson<{ id: string }>(saved, 201)
    // Answered before any indexing: the note is queued, not yet a passage.
    expect(await noteChunks(sql, note.id)).toEqual([])
    await until(async () => (await noteChunks(sql, note.id)).length > 0)
    const [found] = await search(ada, 'when do the bees swarm')
    expect(found).toMatchObject({ citation: { note_id: note.id } })
    expect(found.content).toContain('swarm in late May')

    // A change is indexed the same way; a deleted note's passages go with it at once.
    const changed = await notesApp.request(`/notes/${note.id}`, {
      ...json(ada.token, { content: [paragraph('h1', 'The bees swarmed in early June this year.')] }),
      method: 'PUT',
    })
    expect(changed.status).toBe(200)
    await until(async () => (await noteChunks(sql, note.id))[0]?.content.includes('early June') ?? false)
    const deleted = await notesApp.request(`/notes/${note.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ada.token}` },
    })
    expect(deleted.status).toBe(204)
    expect(await noteChunks(sql, note.id)).toEqual([])
    expect(await search(ada, 'bees swarmed early June')).toEqual([])
    expect((await sql`select 1 from public.knowledge_jobs where note_id = ${note.id}`).length).toBe(0)
  })

  it('POST ai/knowledge/drain drains the caller’s own queue in the background (202 with what waits)', async ({
    sql,
    ada,
    bob,
  }) => {
    const [adas] =
      await sql`insert into public.notes (user_id, title) values (${ada.id}, 'Ada: compost the leaves') returning id`
    const [bobs] =
      await sql`insert into public.notes (user_id, title) values (${bob.id}, 'Bob: compost the leaves') returning id`
    const accepted = await expectJson<{ queued: number }>(
      await aiApp.request('/ai/knowledge/drain', json(ada.token)),
      202,
    )
    expect(accepted.queued).toBeGreaterThanOrEqual(1)
    await backgroundSettled()
    expect((await noteChunks(sql, adas.id)).length).toBe(1)
    // Only the caller's: Bob's note waits for Bob (or the periodic drain).
    expect(await noteChunks(sql, bobs.id)).toEqual([])
    expect((await sql`select attempts from public.knowledge_jobs where note_id = ${bobs.id}`)[0]).toEqual({
      attempts: 0,
    })
    await expectErrorEnvelope(
      await aiApp.request('/ai/knowledge/drain', json(undefined)),
      401,
      'unauthorized',
    )
  })
})

describe('with no periodic drain, nothing a save queued is left behind', () => {
  it('a drain whose attempt failed comes back by itself once the job is due again', {
    timeout: 30_000,
  }, async ({ sql }) => {
    const dan = await createUser('dan')
    setAiConfigForTests({
      ...noProviders(),
      openai: { apiKey: 'test-key', baseUrl: embeddings.baseUrl },
      embeddingModel: 'openai:text-embedding-3-small',
    })
    // One embedding call is two requests (the SDK tries once more): the first attempt fails, whole.
    embeddings.failNext(500, 2)
    const note = await expectJson<{ id: string }>(
      await notesApp.request('/notes', json(dan.token, { title: 'Dan: the spare key is under the mat' })),
      201,
    )
    await until(async () => {
      const [job] = await sql`select attempts from public.knowledge_jobs where note_id = ${note.id}`
      return job?.attempts === 1 && (await noteChunks(sql, note.id)).length === 0
    })
    // No drain-due, no second save: only the drain's own follow-up, after the 5 s backoff, indexes it.
    await until(async () => (await noteChunks(sql, note.id)).length > 0, 15_000)
    expect(await noteChunks(sql, note.id)).toEqual([
      { content: '# Dan: the spare key is under the mat', embedding_model: 'openai:text-embedding-3-small' },
    ])
    expect(await sql`select 1 from public.knowledge_jobs where note_id = ${note.id}`).toHaveLength(0)
  })

  it('a hand-off the ai function refused for a moment (503) is sent again', async ({ sql }) => {
    const eve = await createUser('eve')
    const asked: number[] = []
    const busyOnce = (request: Request) => {
      asked.push(Date.now())
      return asked.length === 1 ? new Response('busy', { status: 503 }) : aiApp.fetch(request)
    }
    await withAiFunction(busyOnce, async () => {
      const note = await expectJson<{ id: string }>(
        await notesApp.request('/notes', json(eve.token, { title: 'Eve: water the ferns' })),
        201,
      )
      await until(async () => (await noteChunks(sql, note.id)).length > 0, 10_000)
      expect(asked).toHaveLength(2)
      // Asked again after a pause, not at once.
      expect(asked[1] - asked[0]).toBeGreaterThanOrEqual(900)
    })
  })

  it('a hand-off refused for good (401) is not sent again', async ({ sql }) => {
    const fay = await createUser('fay')
    let asked = 0
    const refusing = () => {
      asked++
      return Response.json({ error: { code: 'unauthorized' } }, { status: 401 })
    }
    await withAiFunction(refusing, async () => {
      const note = await expectJson<{ id: string }>(
        await notesApp.request('/notes', json(fay.token, { title: 'Fay: call the plumber' })),
        201,
      )
      await backgroundSettled()
      expect(asked).toBe(1)
      // Still queued for the periodic drain: nothing lost.
      expect(await sql`select attempts from public.knowledge_jobs where note_id = ${note.id}`).toEqual([
        { attempts: 0 },
      ])
    })
  })
})

describe('POST ai/knowledge/drain-due (the periodic drain)', () => {
  it('with the service-role key: drains every user with due work, each as that user', async ({
    sql,
    ada,
    bob,
  }) => {
    // Written by SQL (as an agent or a seed would, with no hand-off): queued by the trigger only.
    const [adas] =
      await sql`insert into public.notes (user_id, title) values (${ada.id}, 'Ada: prune the apple tree') returning id`
    const [bobs] =
      await sql`insert into public.notes (user_id, title) values (${bob.id}, 'Bob: prune the pear tree') returning id`
    const answer = await expectJson<{ users: number }>(
      await drainDue(stack.serviceRoleKey, [ada.id, bob.id]),
      202,
    )
    expect(answer.users).toBe(2)
    await backgroundSettled()
    expect((await noteChunks(sql, adas.id)).map((chunk) => chunk.content)).toEqual([
      '# Ada: prune the apple tree',
    ])
    expect((await noteChunks(sql, bobs.id)).map((chunk) => chunk.content)).toEqual([
      '# Bob: prune the pear tree',
    ])
    // Each user's passages are theirs.
    const owners = await sql`select distinct user_id from public.document_chunks where note_id = ${adas.id}`
    expect(owners).toEqual([{ user_id: ada.id }])
    expect(
      (await search(bob, 'prune the apple tree')).map((passage) => passage.citation.note_id),
    ).not.toContain(adas.id)
    // Nothing left: nobody to drain.
    expect(await expectJson(await drainDue(stack.serviceRoleKey, [ada.id, bob.id]), 202)).toEqual({
      users: 0,
    })
  })

  it('retries a failed attempt once its backoff has passed, and re-embeds on a model change', async ({
    sql,
  }) => {
    // A user of its own: no passages of the local model yet, so the only work is this note's.
    const carol = await createUser('carol')
    setAiConfigForTests({
      ...noProviders(),
      openai: { apiKey: 'test-key', baseUrl: embeddings.baseUrl },
      embeddingModel: 'openai:text-embedding-3-small',
    })
    embeddings.failNext(500, 4)
    const [note] =
      await sql`insert into public.notes (user_id, title) values (${carol.id}, 'Carol: the ladder is in the garage') returning id`
    await drainDue(stack.serviceRoleKey, [carol.id])
    await backgroundSettled()
    const [failed] =
      await sql`select attempts, last_error, run_after > now() as waits from public.knowledge_jobs where note_id = ${note.id}`
    expect(failed).toMatchObject({ attempts: 1, waits: true })
    expect(failed.last_error).toContain('500')
    // Not due yet: the periodic drain leaves it alone.
    expect(await expectJson(await drainDue(stack.serviceRoleKey, [carol.id]), 202)).toMatchObject({
      users: 0,
    })
    embeddings.recover()
    await sql`update public.knowledge_jobs set run_after = now() where note_id = ${note.id}`
    expect(await expectJson(await drainDue(stack.serviceRoleKey, [carol.id]), 202)).toEqual({ users: 1 })
    await backgroundSettled()
    expect(await noteChunks(sql, note.id)).toEqual([
      { content: '# Carol: the ladder is in the garage', embedding_model: 'openai:text-embedding-3-small' },
    ])
    expect(MAX_ATTEMPTS).toBeGreaterThan(1)

    // Back to the local model: Carol's passages of the other model are work for the periodic drain.
    setAiConfigForTests(noProviders())
    expect(await expectJson(await drainDue(stack.serviceRoleKey, [carol.id]), 202)).toEqual({ users: 1 })
    await backgroundSettled()
    const models =
      await sql`select distinct embedding_model from public.document_chunks where user_id = ${carol.id}`
    expect(models).toEqual([{ embedding_model: 'local:use-lite' }])
  })

  it('refuses anything but the service-role key with 401, and then drains nothing', async ({
    sql,
    ada,
    bob,
  }) => {
    const [note] =
      await sql`insert into public.notes (user_id, title) values (${bob.id}, 'Bob: waiting') returning id`
    const secret = new TextEncoder().encode('a-wrong-secret-that-is-also-at-least-32-chars')
    const forged = await new SignJWT({ role: 'service_role' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(secret)
    const refused: Array<[string, string | undefined]> = [
      ['no token', undefined],
      ['a user’s token', ada.token],
      ['the owner’s own token', bob.token],
      ['the anon key', stack.anonKey],
      ['a service_role JWT signed with another secret', forged],
      ['the key with a character changed', `${stack.serviceRoleKey.slice(0, -1)}x`],
    ]
    for (const [label, token] of refused) {
      await expectErrorEnvelope(await drainDue(token, [bob.id]), 401, 'unauthorized', { label })
    }
    await backgroundSettled()
    expect(await noteChunks(sql, note.id)).toEqual([])
    // A service_role JWT signed with the project's secret is the key, whatever its other claims.
    const minted = await new SignJWT({ role: 'service_role', iss: 'supabase' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode(stack.jwtSecret))
    expect(await expectJson(await drainDue(minted, [bob.id]), 202)).toEqual({ users: 1 })
    await backgroundSettled()
    expect((await noteChunks(sql, note.id)).length).toBe(1)
    await expectErrorEnvelope(
      await aiApp.request('/ai/knowledge/drain-due', json(stack.serviceRoleKey, { user_ids: ['nope'] })),
      422,
      'validation_failed',
    )
  })
})
