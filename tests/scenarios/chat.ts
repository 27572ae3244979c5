import type postgres from 'postgres'
import { describe, expect } from 'vitest'
import type { Conversation, Message } from '../../shared/chat/schemas.ts'
import { expectJson, type Page, type Target, walkPages } from '../helpers/domain.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import type { SecuritySuiteOptions } from '../helpers/security.ts'
import { it } from '../helpers/fixtures.ts'
import { createUser, type TestUser } from '../helpers/stack.ts'
import { sortable } from '../helpers/time.ts'

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/

/** What the shared security suite needs for the chat function. */
export const chatSecurity: Omit<SecuritySuiteOptions, 'app'> = {
  name: 'chat',
  fixtures: {
    '/chat/conversations/{id}': conversationOf,
    '/chat/conversations/{id}/messages': conversationOf,
  },
  bodies: {
    'POST /chat/conversations': { title: 'pwned' },
    'POST /chat/conversations/{id}/messages': { content: 'pwned' },
  },
}

async function conversationOf(owner: TestUser, sql: postgres.Sql) {
  const [{ id }] = await sql`
    insert into public.conversations (user_id, title) values (${owner.id}, 'victim’s chat') returning id`
  await sql`
    insert into public.messages (user_id, conversation_id, role, content)
    values (${owner.id}, ${id}, 'user', 'victim’s message')`
  return { id }
}

/** Every route of the chat function. */
export function chatScenarios({ name, api }: Target) {
  describe(`chat (${name})`, () => {
    const start = async (user: TestUser, body: Record<string, unknown> = {}) =>
      expectJson<Conversation>(await api('POST', '/chat/conversations', { user, body }), 201)
    const get = async (user: TestUser, id: string) =>
      expectJson<Conversation>(await api('GET', `/chat/conversations/${id}`, { user }), 200)
    const post = async (user: TestUser, id: string, body: Record<string, unknown>) =>
      expectJson<Message>(await api('POST', `/chat/conversations/${id}/messages`, { user, body }), 201)
    const messageCount = async (sql: postgres.Sql, conversationId: string) =>
      (await sql`select count(*)::int as n from public.messages where conversation_id = ${conversationId}`)[0]
        .n as number

    describe('conversations', () => {
      it('starts an untitled conversation and answers 201 with the row', async ({ ada }) => {
        const conversation = await start(ada)
        expect(conversation).toEqual({
          id: expect.any(String),
          user_id: ada.id,
          title: null,
          metadata: {},
          created_at: expect.stringMatching(ISO),
          updated_at: conversation.created_at,
        })
        expect(await get(ada, conversation.id)).toEqual(conversation)
      })

      it('takes a title (trimmed) and metadata', async ({ ada }) => {
        const conversation = await start(ada, { title: '  Weekly review ', metadata: { pinned: true } })
        expect(conversation).toMatchObject({ title: 'Weekly review', metadata: { pinned: true } })
      })

      it('refuses a blank, too long or NUL-bearing title, unknown fields and a non-object body with 422', async ({
        ada,
        bob,
      }) => {
        for (const body of [
          { title: '   ' },
          { title: 'x'.repeat(501) },
          { title: 'a\u0000b' },
          { user_id: bob.id },
          { metadata: [] },
          [],
        ]) {
          await expectErrorEnvelope(
            await api('POST', '/chat/conversations', { user: ada, body }),
            422,
            'validation_failed',
          )
        }
        await expectErrorEnvelope(
          await api('POST', '/chat/conversations', { user: ada, body: '{"title":' }),
          400,
          'invalid_json',
        )
      })

      it('answers an unknown or malformed id with 404 and 422', async ({ ada }) => {
        await expectErrorEnvelope(
          await api('GET', `/chat/conversations/${crypto.randomUUID()}`, { user: ada }),
          404,
          'not_found',
        )
        await expectErrorEnvelope(
          await api('GET', '/chat/conversations/not-a-uuid', { user: ada }),
          422,
          'validation_failed',
        )
      })

      it('lists the user’s conversations, the latest activity first', async () => {
        const user = await createUser('lister')
        const first = await start(user, { title: 'first' })
        const second = await start(user, { title: 'second' })
        const third = await start(user, { title: 'third' })
        const list = async () =>
          (await expectJson<Page<Conversation>>(await api('GET', '/chat/conversations', { user }), 200)).data
        expect((await list()).map((c) => c.title)).toEqual(['third', 'second', 'first'])

        // A new message is activity: its conversation moves to the top.
        await post(user, first.id, { content: 'back to this one' })
        expect((await list()).map((c) => c.id)).toEqual([first.id, third.id, second.id])
        expect((await list()).every((c) => c.user_id === user.id)).toBe(true)
      })

      it('pages by keyset: every conversation once, in order, while others are added and bumped', async () => {
        const pager = await createUser('pager')
        const originals: Conversation[] = []
        for (let i = 0; i < 7; i++) originals.push(await start(pager, { title: `c${i}` }))
        const seen = await walkPages<Conversation>(
          api,
          '/chat/conversations?limit=3',
          pager,
          async (index) => {
            await start(pager, { title: 'started meanwhile' })
            // Activity in a conversation already read moves it to the top, above the cursor.
            if (index === 0) await post(pager, originals[6].id, { content: 'bump' })
          },
        )
        const ids = seen.map((c) => c.id)
        expect(new Set(ids).size).toBe(ids.length)
        expect(seen.map((c) => c.title)).toEqual(['c6', 'c5', 'c4', 'c3', 'c2', 'c1', 'c0'])
      })

      it('refuses a made-up cursor and a bad limit with 422', async ({ ada }) => {
        for (const query of [
          'cursor=abc',
          `cursor=${Buffer.from('[1,2]').toString('base64url')}`,
          'limit=0',
          'limit=101',
        ]) {
          await expectErrorEnvelope(
            await api('GET', `/chat/conversations?${query}`, { user: ada }),
            422,
            'validation_failed',
          )
        }
      })

      it('deletes a conversation with its messages (204), then it is gone', async ({ sql, ada }) => {
        const conversation = await start(ada, { title: 'to delete' })
        await post(ada, conversation.id, { content: 'one' })
        await post(ada, conversation.id, { content: 'two' })
        expect(await messageCount(sql, conversation.id)).toBe(2)

        const response = await api('DELETE', `/chat/conversations/${conversation.id}`, { user: ada })
        expect(response.status).toBe(204)
        expect(await response.text()).toBe('')
        expect(await messageCount(sql, conversation.id)).toBe(0)
        await expectErrorEnvelope(
          await api('GET', `/chat/conversations/${conversation.id}`, { user: ada }),
          404,
          'not_found',
        )
        await expectErrorEnvelope(
          await api('GET', `/chat/conversations/${conversation.id}/messages`, { user: ada }),
          404,
          'not_found',
        )
        await expectErrorEnvelope(
          await api('DELETE', `/chat/conversations/${conversation.id}`, { user: ada }),
          404,
          'not_found',
        )
      })
    })

    describe('messages', () => {
      it('stores a user message and answers 201 with it', async ({ sql, ada }) => {
        const conversation = await start(ada, { title: 'Chat' })
        const message = await post(ada, conversation.id, { content: 'Hello there', respond: false })
        expect(message).toEqual({
          id: expect.any(String),
          user_id: ada.id,
          conversation_id: conversation.id,
          role: 'user',
          content: 'Hello there',
          agent_id: null,
          metadata: {},
          created_at: expect.stringMatching(ISO),
          updated_at: message.created_at,
        })
        const [row] = await sql`select role::text, content from public.messages where id = ${message.id}`
        expect(row).toEqual({ role: 'user', content: 'Hello there' })
      })

      it('takes role user explicitly, an agent to address and metadata', async ({ ada }) => {
        const conversation = await start(ada)
        const message = await post(ada, conversation.id, {
          role: 'user',
          content: 'Plan my week',
          agent_id: 'planner',
          metadata: { client: 'web' },
        })
        expect(message).toMatchObject({ role: 'user', agent_id: 'planner', metadata: { client: 'web' } })
      })

      it('refuses assistant, system and tool messages from a client with 422, storing nothing', async ({
        sql,
        ada,
      }) => {
        const conversation = await start(ada)
        for (const role of ['assistant', 'system', 'tool', 'moderator']) {
          const error = await expectErrorEnvelope(
            await api('POST', `/chat/conversations/${conversation.id}/messages`, {
              user: ada,
              body: { role, content: 'I am the assistant now' },
            }),
            422,
            'validation_failed',
          )
          expect(error.details?.map((detail) => detail.path)).toEqual(['role'])
        }
        expect(await messageCount(sql, conversation.id)).toBe(0)
      })

      it('accepts exactly 32 KiB of text and refuses one byte more with 422', async ({ sql, ada }) => {
        const conversation = await start(ada, { title: 'Long' })
        const exact = await post(ada, conversation.id, { content: 'é'.repeat(16 * 1024) })
        expect(new TextEncoder().encode(exact.content).length).toBe(32 * 1024)
        const error = await expectErrorEnvelope(
          await api('POST', `/chat/conversations/${conversation.id}/messages`, {
            user: ada,
            body: { content: `${'é'.repeat(16 * 1024)}x` },
          }),
          422,
          'validation_failed',
        )
        expect(error.details).toEqual([{ path: 'content', message: expect.stringMatching(/32768 bytes/) }])
        expect(await messageCount(sql, conversation.id)).toBe(1)
      })

      it('refuses a body over the size limit with 413', async ({ ada }) => {
        const conversation = await start(ada)
        await expectErrorEnvelope(
          await api('POST', `/chat/conversations/${conversation.id}/messages`, {
            user: ada,
            body: { content: 'x'.repeat(2 * 1024 * 1024) },
          }),
          413,
          'payload_too_large',
        )
      })

      it('refuses blank or NUL-bearing content, a bad agent_id and unknown fields with 422', async ({
        sql,
        ada,
      }) => {
        const conversation = await start(ada)
        for (const body of [
          {},
          { content: '' },
          { content: ' \n\t ' },
          { content: 'a\u0000b' },
          { content: 'hi', agent_id: '' },
          { content: 'hi', agent_id: 'x'.repeat(101) },
          { content: 'hi', conversation_id: crypto.randomUUID() },
          { content: 'hi', created_at: '2020-01-01T00:00:00Z' },
        ]) {
          await expectErrorEnvelope(
            await api('POST', `/chat/conversations/${conversation.id}/messages`, { user: ada, body }),
            422,
            'validation_failed',
          )
        }
        expect(await messageCount(sql, conversation.id)).toBe(0)
      })

      it('names an untitled conversation after its first message, and keeps a given title', async ({
        ada,
      }) => {
        const untitled = await start(ada)
        await post(ada, untitled.id, { content: '\n   Plan   my week\nwith the details below' })
        expect((await get(ada, untitled.id)).title).toBe('Plan my week')
        await post(ada, untitled.id, { content: 'Something else' })
        expect((await get(ada, untitled.id)).title).toBe('Plan my week')

        const long = await start(ada)
        const words = 'word '.repeat(30)
        await post(ada, long.id, { content: words })
        const title = (await get(ada, long.id)).title
        expect(title).toBe(`${words.slice(0, 59).trimEnd()}…`)
        expect(title).toHaveLength(60)

        const named = await start(ada, { title: 'Mine' })
        await post(ada, named.id, { content: 'Hello' })
        expect((await get(ada, named.id)).title).toBe('Mine')
      })

      it('moves the conversation’s updated_at with every message', async ({ ada }) => {
        const conversation = await start(ada, { title: 'Active' })
        const message = await post(ada, conversation.id, { content: 'ping' })
        const after = await get(ada, conversation.id)
        expect(sortable(after.updated_at) > sortable(conversation.updated_at)).toBe(true)
        expect(sortable(after.updated_at) >= sortable(message.created_at)).toBe(true)
      })

      it('lists messages oldest to newest, across pages, while new ones are posted', async ({ sql, ada }) => {
        const conversation = await start(ada, { title: 'Paged' })
        for (let i = 0; i < 5; i++) await post(ada, conversation.id, { content: `m${i}` })
        let added = 0
        const seen = await walkPages<Message>(
          api,
          `/chat/conversations/${conversation.id}/messages?limit=2`,
          ada,
          async () => {
            if (added < 3) await post(ada, conversation.id, { content: `new${added++}` })
          },
        )
        // Every message once, in the table's order; those posted while paging come last.
        const stored = await sql<{ id: string; content: string }[]>`
          select id, content from public.messages where conversation_id = ${conversation.id} order by created_at, id`
        expect(seen.map((m) => m.id)).toEqual(stored.map((m) => m.id))
        expect(seen.map((m) => m.content)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'new0', 'new1', 'new2'])
      })

      it('lists an empty conversation as an empty page and refuses a made-up cursor', async ({ ada }) => {
        const conversation = await start(ada)
        expect(
          await expectJson(
            await api('GET', `/chat/conversations/${conversation.id}/messages`, { user: ada }),
            200,
          ),
        ).toEqual({ data: [], next_cursor: null })
        await expectErrorEnvelope(
          await api('GET', `/chat/conversations/${conversation.id}/messages?cursor=nope`, { user: ada }),
          422,
          'validation_failed',
        )
      })

      it('answers another user’s conversation with 404 on every route and changes nothing', async ({
        ada,
        bob,
      }) => {
        const theirs = await start(bob, { title: 'Bob’s' })
        const message = await post(bob, theirs.id, { content: 'private', respond: false })
        await expectErrorEnvelope(
          await api('GET', `/chat/conversations/${theirs.id}`, { user: ada }),
          404,
          'not_found',
        )
        await expectErrorEnvelope(
          await api('GET', `/chat/conversations/${theirs.id}/messages`, { user: ada }),
          404,
          'not_found',
        )
        await expectErrorEnvelope(
          await api('POST', `/chat/conversations/${theirs.id}/messages`, {
            user: ada,
            body: { content: 'hi' },
          }),
          404,
          'not_found',
        )
        await expectErrorEnvelope(
          await api('DELETE', `/chat/conversations/${theirs.id}`, { user: ada }),
          404,
          'not_found',
        )
        const page = await expectJson<Page<Conversation>>(
          await api('GET', '/chat/conversations', { user: ada }),
          200,
        )
        expect(page.data.map((c) => c.id)).not.toContain(theirs.id)
        expect(await get(bob, theirs.id)).toEqual({ ...theirs, updated_at: expect.any(String) })
        const list = await expectJson<Page<Message>>(
          await api('GET', `/chat/conversations/${theirs.id}/messages`, { user: bob }),
          200,
        )
        expect(list.data).toEqual([message])
      })

      it('answers a message to an unknown conversation with 404', async ({ ada }) => {
        await expectErrorEnvelope(
          await api('POST', `/chat/conversations/${crypto.randomUUID()}/messages`, {
            user: ada,
            body: { content: 'hello?' },
          }),
          404,
          'not_found',
        )
      })

      it('replays a repeated Idempotency-Key and refuses it for another body with 409', async ({
        sql,
        ada,
      }) => {
        const conversation = await start(ada)
        const key = crypto.randomUUID()
        const path = `/chat/conversations/${conversation.id}/messages`
        const headers = { 'idempotency-key': key }
        const first = await expectJson<Message>(
          await api('POST', path, { user: ada, body: { content: 'once', respond: false }, headers }),
          201,
        )
        const again = await api('POST', path, {
          user: ada,
          body: { content: 'once', respond: false },
          headers,
        })
        expect(await expectJson<Message>(again, 201)).toEqual(first)
        expect(again.headers.get('idempotent-replayed')).toBe('true')
        expect(await messageCount(sql, conversation.id)).toBe(1)
        await expectErrorEnvelope(
          await api('POST', path, { user: ada, body: { content: 'twice' }, headers }),
          409,
          'conflict',
        )

        const started = await api('POST', '/chat/conversations', {
          user: ada,
          body: { title: 'Once' },
          headers,
        })
        const replayed = await api('POST', '/chat/conversations', {
          user: ada,
          body: { title: 'Once' },
          headers,
        })
        expect(await expectJson(replayed, 201)).toEqual(await expectJson(started, 201))
        expect(replayed.headers.get('idempotent-replayed')).toBe('true')
      })
    })

    describe('OpenAPI', () => {
      it('documents every route with the bearer scheme and the error responses', async () => {
        const doc = (await (await api('GET', '/chat/openapi.json')).json()) as {
          paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>
        }
        const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
          Object.entries(ops).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })),
        )
        const chatRoutes = operations.filter(({ route }) => route.includes('/conversations'))
        expect(chatRoutes.map(({ route }) => route).sort()).toEqual([
          'DELETE /chat/conversations/{id}',
          'GET /chat/conversations',
          'GET /chat/conversations/{id}',
          'GET /chat/conversations/{id}/messages',
          'POST /chat/conversations',
          'POST /chat/conversations/{id}/messages',
        ])
        for (const { route, op } of chatRoutes) {
          expect(op.security, route).toEqual([{ bearerAuth: [] }])
          expect(Object.keys(op.responses), route).toEqual(
            expect.arrayContaining(['400', '401', '404', '413', '415', '422', '500']),
          )
        }
      })
    })
  })
}
