import type postgres from 'postgres'
import { describe, expect } from 'vitest'
import type { Note as NoteRow } from '../../shared/notes/schemas.ts'
import type { Task } from '../../shared/tasks/schemas.ts'
import {
  checkItem,
  etag,
  expectJson,
  type Page,
  paragraph,
  type Target,
  text,
  walkPages,
} from '../helpers/domain.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { test } from '../helpers/fixtures.ts'
import { createUser, type TestUser } from '../helpers/stack.ts'
import { sortable } from '../helpers/time.ts'

/** A note as the API answers it, its content read as BlockNote blocks. */
interface Note extends Omit<NoteRow, 'content'> {
  content: Array<{ id: string; type: string; props: Record<string, unknown>; children: unknown[] }>
}

/** Every route of the notes function, including the checklist ↔ tasks sync. */
export function notesScenarios({ name, api }: Target) {
  const create = async (user: TestUser, body: Record<string, unknown>) =>
    expectJson<Note>(await api('POST', '/notes', { user, body }), 201)
  const get = async (user: TestUser, id: string) =>
    expectJson<Note>(await api('GET', `/notes/${id}`, { user }), 200)
  const noteTasks = async (user: TestUser, id: string) =>
    (await expectJson<Page<Task>>(await api('GET', `/notes/${id}/tasks`, { user }), 200)).data
  const rowCount = async (sql: postgres.Sql, table: string, user: TestUser) =>
    (await sql`select count(*)::int as n from ${sql(`public.${table}`)} where user_id = ${user.id}`)[0]
      .n as number

  // What the list tests read: one user's notes, made once, for the first of them.
  const it = test.extend('listed', { scope: 'file' }, async () => {
    const user = await createUser('lister')
    const notes: Record<string, Note> = {}
    notes.root = await create(user, {
      title: 'Root plans',
      content: [paragraph('a', 'quarterly roadmap')],
    })
    notes.child = await create(user, { title: 'Child', parent_id: notes.root.id })
    notes.pinned = await create(user, { title: 'Pinned', is_pinned: true })
    notes.archived = await create(user, { title: 'Old stuff', is_archived: true })
    notes.nested = await create(user, {
      title: 'Deep',
      content: [
        paragraph('p', 'outer', [
          {
            id: 'l',
            type: 'paragraph',
            props: {},
            content: [{ type: 'link', href: 'https://x', content: [text('zebra crossing')] }],
            children: [],
          },
        ]),
        {
          id: 't',
          type: 'table',
          props: {},
          content: { type: 'tableContent', rows: [{ cells: [[text('platypus')]] }] },
          children: [],
        },
      ],
    })

    const ids = async (query: string) =>
      (await expectJson<Page<Note>>(await api('GET', `/notes${query}`, { user }), 200)).data.map(
        (note) => note.id,
      )
    return { user, notes, ids }
  })

  describe(`notes (${name})`, () => {
    describe('create and get', () => {
      it('creates a note with defaults and answers 201 with the row and its ETag', async ({ ada }) => {
        const response = await api('POST', '/notes', { user: ada, body: { title: '  Groceries ' } })
        const note = await expectJson<Note>(response, 201)
        expect(note).toEqual({
          id: expect.any(String),
          user_id: ada.id,
          parent_id: null,
          title: 'Groceries',
          content: [],
          is_archived: false,
          is_pinned: false,
          metadata: {},
          created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
          updated_at: note.created_at,
        })
        expect(response.headers.get('etag')).toBe(etag(note))

        const fetched = await api('GET', `/notes/${note.id}`, { user: ada })
        expect(await expectJson<Note>(fetched, 200)).toEqual(note)
        expect(fetched.headers.get('etag')).toBe(etag(note))
      })

      it('accepts every block and inline type of BlockNote’s default schema', async ({ ada }) => {
        const content = [
          paragraph('p1', 'plain'),
          {
            id: 'h1',
            type: 'heading',
            props: { level: 2, isToggleable: false },
            content: [text('Head', { bold: true })],
            children: [],
          },
          { id: 'b1', type: 'bulletListItem', props: {}, content: [text('bullet')], children: [] },
          {
            id: 'n1',
            type: 'numberedListItem',
            props: { start: 3 },
            content: [text('numbered')],
            children: [],
          },
          checkItem('c1', 'check me'),
          {
            id: 't1',
            type: 'toggleListItem',
            props: {},
            content: [text('toggle')],
            children: [paragraph('t1p', 'inside')],
          },
          {
            id: 'q1',
            type: 'quote',
            props: {},
            content: [text('quoted', { italic: true, textColor: 'red' })],
            children: [],
          },
          {
            id: 'cb',
            type: 'codeBlock',
            props: { language: 'typescript' },
            content: [text('let x = 1')],
            children: [],
          },
          {
            id: 'l1',
            type: 'paragraph',
            props: {},
            content: [
              { type: 'link', href: 'https://example.com', content: [text('a link', { underline: true })] },
            ],
            children: [],
          },
          {
            id: 'tb',
            type: 'table',
            props: { textColor: 'default' },
            content: {
              type: 'tableContent',
              columnWidths: [null, 120],
              headerRows: 1,
              rows: [
                {
                  cells: [
                    [text('cell a')],
                    { type: 'tableCell', props: { colspan: 1 }, content: [text('cell b')] },
                  ],
                },
              ],
            },
            children: [],
          },
          {
            id: 'im',
            type: 'image',
            props: { url: 'https://example.com/a.png', caption: '', previewWidth: 512 },
            children: [],
          },
          { id: 'vi', type: 'video', props: { url: 'https://example.com/a.mp4' }, children: [] },
          { id: 'au', type: 'audio', props: { url: 'https://example.com/a.mp3' }, children: [] },
          {
            id: 'fi',
            type: 'file',
            props: { url: 'https://example.com/a.pdf', name: 'a.pdf' },
            children: [],
          },
          { id: 'dv', type: 'divider', props: {}, children: [] },
          { id: 'pb', type: 'pageBreak', props: {}, children: [] },
        ]
        const note = await create(ada, { title: 'All blocks', content })
        expect(note.content).toHaveLength(content.length)
        expect(note.content[3]).toEqual(content[3])
      })

      it('fills in a block’s missing props, content and children as the editor would', async ({ ada }) => {
        const note = await create(ada, { content: [{ id: 'x', type: 'paragraph' }] })
        expect(note.content).toEqual([{ id: 'x', type: 'paragraph', props: {}, content: [], children: [] }])
      })

      it.for([
        [
          'an unknown block type',
          [{ id: 'a', type: 'mermaid', props: {}, content: [], children: [] }],
          'content.0.type',
        ],
        [
          'an unknown inline type',
          [{ id: 'a', type: 'paragraph', content: [{ type: 'mention', user: 'x' }] }],
          'content.0.content.0.type',
        ],
        ['an unknown block key', [{ id: 'a', type: 'paragraph', script: 'x' }], 'content.0'],
        ['a block without an id', [{ type: 'paragraph' }], 'content.0.id'],
        ['rich text in a divider', [{ id: 'a', type: 'divider', content: [text('x')] }], 'content.0'],
        [
          'a non-boolean checked',
          [{ id: 'a', type: 'checkListItem', props: { checked: 'yes' } }],
          'content.0.props.checked',
        ],
        [
          'an unknown style',
          [{ id: 'a', type: 'paragraph', content: [text('x', { blink: true })] }],
          'content.0.content.0.styles',
        ],
        ['content that is not an array', { type: 'doc' }, 'content'],
        ['two blocks with one id', [paragraph('same', 'a'), paragraph('same', 'b')], 'content'],
      ])('refuses %s with 422', async ([_, content, path], { sql, ada }) => {
        const before = await rowCount(sql, 'notes', ada)
        const error = await expectErrorEnvelope(
          await api('POST', '/notes', { user: ada, body: { content } }),
          422,
          'validation_failed',
        )
        expect(error.details?.map((detail) => detail.path)).toContain(path)
        expect(await rowCount(sql, 'notes', ada)).toBe(before)
      })

      it('refuses blocks nested deeper than the limit with 422, not a crash', async ({ ada }) => {
        let block: Record<string, unknown> = { id: 'leaf', type: 'paragraph' }
        for (let depth = 0; depth < 200; depth++)
          block = { id: `b${depth}`, type: 'paragraph', children: [block] }
        await expectErrorEnvelope(
          await api('POST', '/notes', { user: ada, body: { content: [block] } }),
          422,
          'validation_failed',
        )
      })

      it('refuses unknown fields and a title over 500 characters with 422', async ({ ada, bob }) => {
        await expectErrorEnvelope(
          await api('POST', '/notes', { user: ada, body: { title: 'x', owner: bob.id } }),
          422,
          'validation_failed',
        )
        await expectErrorEnvelope(
          await api('POST', '/notes', { user: ada, body: { title: 'x'.repeat(501) } }),
          422,
          'validation_failed',
        )
      })

      it('caps a note at 1 MiB of content with 413, storing nothing', async ({ sql, ada }) => {
        const before = await rowCount(sql, 'notes', ada)
        const big = Array.from({ length: 12 }, (_, i) => paragraph(`big${i}`, 'x'.repeat(90_000)))
        const error = await expectErrorEnvelope(
          await api('POST', '/notes', { user: ada, body: { content: big } }),
          413,
          'payload_too_large',
        )
        expect(error.message).toMatch(/at most/)
        const huge = Array.from({ length: 30 }, (_, i) => paragraph(`huge${i}`, 'y'.repeat(90_000)))
        await expectErrorEnvelope(
          await api('POST', '/notes', { user: ada, body: { content: huge } }),
          413,
          'payload_too_large',
        )
        expect(await rowCount(sql, 'notes', ada)).toBe(before)
        // Just under the cap is fine.
        const fits = Array.from({ length: 11 }, (_, i) => paragraph(`fit${i}`, 'z'.repeat(90_000)))
        await create(ada, { content: fits })
      })
    })

    describe('list', () => {
      it('lists pinned notes first, then the most recently changed, leaving out archived ones', async ({
        listed: { user, notes, ids },
      }) => {
        expect(await ids('')).toEqual([notes.pinned.id, notes.nested.id, notes.child.id, notes.root.id])
        // A change moves a note up.
        await api('PUT', `/notes/${notes.root.id}`, { user, body: { title: 'Root plans (edited)' } })
        expect(await ids('')).toEqual([notes.pinned.id, notes.root.id, notes.nested.id, notes.child.id])
      })

      it('filters by is_archived, is_pinned and parent_id (or root)', async ({ listed: { notes, ids } }) => {
        expect(await ids('?is_archived=true')).toEqual([notes.archived.id])
        expect(await ids('?is_pinned=true')).toEqual([notes.pinned.id])
        expect((await ids('?is_pinned=false')).sort()).toEqual(
          [notes.root.id, notes.child.id, notes.nested.id].sort(),
        )
        expect(await ids(`?parent_id=${notes.root.id}`)).toEqual([notes.child.id])
        expect(await ids('?parent_id=root')).not.toContain(notes.child.id)
        expect(await ids('?parent_id=root')).toHaveLength(3)
      })

      it('searches titles and the text of content at any depth (links, tables, children)', async ({
        listed: { notes, ids },
      }) => {
        expect(await ids('?q=roadmap')).toEqual([notes.root.id])
        expect(await ids('?q=Root')).toEqual([notes.root.id])
        expect(await ids('?q=zebra')).toEqual([notes.nested.id])
        expect(await ids('?q=platypus')).toEqual([notes.nested.id])
        expect(await ids('?q=nothing-like-this')).toEqual([])
        expect(await ids(`?q=${encodeURIComponent('"quarterly roadmap" -zebra')}`)).toEqual([notes.root.id])
      })

      it('refuses bad filters with 422', async ({ listed: { user } }) => {
        for (const query of [
          '?is_archived=maybe',
          '?parent_id=nope',
          '?limit=0',
          '?limit=101',
          '?cursor=bm9wZQ',
        ]) {
          await expectErrorEnvelope(await api('GET', `/notes${query}`, { user }), 422, 'validation_failed')
        }
      })

      it('pages by keyset: every note once, in order, while new notes are added between pages', async () => {
        const pager = await createUser('pager')
        const originals: string[] = []
        for (let i = 0; i < 7; i++)
          originals.push((await create(pager, { title: `n${i}`, is_pinned: i % 3 === 0 })).id)
        const full = (
          await expectJson<Page<Note>>(await api('GET', '/notes?limit=100', { user: pager }), 200)
        ).data
        const seen = await walkPages<Note>(api, '/notes?limit=3', pager, async () => {
          await create(pager, { title: 'inserted meanwhile', is_pinned: true })
          await create(pager, { title: 'inserted meanwhile' })
        })
        // No note twice, every original once and in order; a new note shows up only if it sorts after
        // the page already read (here: unpinned notes, after the pinned ones).
        expect(new Set(seen.map((note) => note.id)).size).toBe(seen.length)
        expect(seen.map((note) => note.id).filter((id) => originals.includes(id))).toEqual(
          full.map((note) => note.id),
        )
      })
    })

    describe('update', () => {
      it('changes only the fields given and answers the new ETag', async ({ ada }) => {
        const note = await create(ada, {
          title: 'Keep content',
          content: [paragraph('a', 'body')],
          metadata: { a: 1 },
        })
        const response = await api('PUT', `/notes/${note.id}`, { user: ada, body: { is_pinned: true } })
        const updated = await expectJson<Note>(response, 200)
        expect(updated).toEqual({ ...note, is_pinned: true, updated_at: expect.any(String) })
        expect(sortable(updated.updated_at) > sortable(note.updated_at)).toBe(true)
        expect(response.headers.get('etag')).toBe(etag(updated))
      })

      it('answers an empty change with the note unchanged', async ({ ada }) => {
        const note = await create(ada, { title: 'Same' })
        expect(
          await expectJson<Note>(await api('PUT', `/notes/${note.id}`, { user: ada, body: {} }), 200),
        ).toEqual(note)
      })

      it('refuses unknown and read-only fields with 422, changing nothing', async ({ ada, bob }) => {
        const note = await create(ada, { title: 'Strict' })
        for (const body of [
          { colour: 'red' },
          { user_id: bob.id },
          { id: crypto.randomUUID() },
          { updated_at: '2020-01-01T00:00:00Z' },
        ]) {
          await expectErrorEnvelope(
            await api('PUT', `/notes/${note.id}`, { user: ada, body }),
            422,
            'validation_failed',
          )
        }
        expect(await get(ada, note.id)).toEqual(note)
      })

      it('applies If-Match: the current ETag or * succeeds, a stale one is 412 with nothing changed', async ({
        ada,
      }) => {
        const note = await create(ada, { title: 'v1' })
        const v2 = await expectJson<Note>(
          await api('PUT', `/notes/${note.id}`, {
            user: ada,
            body: { title: 'v2' },
            headers: { 'if-match': etag(note) },
          }),
          200,
        )
        await expectErrorEnvelope(
          await api('PUT', `/notes/${note.id}`, {
            user: ada,
            body: { title: 'v3' },
            headers: { 'if-match': etag(note) },
          }),
          412,
          'precondition_failed',
        )
        for (const header of [`W/${etag(v2)}`, '"garbage"', '"2020-01-01T00:00:00Z"']) {
          await expectErrorEnvelope(
            await api('PUT', `/notes/${note.id}`, {
              user: ada,
              body: { title: 'v3' },
              headers: { 'if-match': header },
            }),
            412,
            'precondition_failed',
          )
        }
        expect((await get(ada, note.id)).title).toBe('v2')
        const v3 = await expectJson<Note>(
          await api('PUT', `/notes/${note.id}`, {
            user: ada,
            body: { title: 'v3' },
            headers: { 'if-match': `"2020-01-01T00:00:00Z", ${etag(v2)}` },
          }),
          200,
        )
        await expectJson<Note>(
          await api('PUT', `/notes/${note.id}`, {
            user: ada,
            body: { title: 'v4' },
            headers: { 'if-match': '*' },
          }),
          200,
        )
        await expectErrorEnvelope(
          await api('DELETE', `/notes/${note.id}`, { user: ada, headers: { 'if-match': etag(v3) } }),
          412,
          'precondition_failed',
        )
        expect((await get(ada, note.id)).title).toBe('v4')
      })
    })

    describe('the tree', () => {
      it('moves notes, refuses a note under itself or its own descendant with 409, changing nothing', async ({
        ada,
      }) => {
        const a = await create(ada, { title: 'a' })
        const b = await create(ada, { title: 'b', parent_id: a.id })
        const c = await create(ada, { title: 'c', parent_id: b.id })
        await expectErrorEnvelope(
          await api('PUT', `/notes/${a.id}`, { user: ada, body: { parent_id: a.id } }),
          409,
          'conflict',
        )
        await expectErrorEnvelope(
          await api('PUT', `/notes/${a.id}`, { user: ada, body: { parent_id: c.id } }),
          409,
          'conflict',
        )
        expect((await get(ada, a.id)).parent_id).toBeNull()
        // Moving within the tree and back to the top is fine.
        expect(
          (
            await expectJson<Note>(
              await api('PUT', `/notes/${c.id}`, { user: ada, body: { parent_id: a.id } }),
              200,
            )
          ).parent_id,
        ).toBe(a.id)
        expect(
          (
            await expectJson<Note>(
              await api('PUT', `/notes/${b.id}`, { user: ada, body: { parent_id: null } }),
              200,
            )
          ).parent_id,
        ).toBeNull()
      })

      it('refuses another user’s note as parent (422), on create and on update, linking nothing', async ({
        sql,
        ada,
        bob,
      }) => {
        const theirs = await create(bob, { title: 'bob’s' })
        const before = await rowCount(sql, 'notes', ada)
        const error = await expectErrorEnvelope(
          await api('POST', '/notes', { user: ada, body: { title: 'sneaky', parent_id: theirs.id } }),
          422,
          'validation_failed',
        )
        expect(error.details).toEqual([{ path: 'parent_id', message: 'No such note' }])
        expect(await rowCount(sql, 'notes', ada)).toBe(before)
        const mine = await create(ada, { title: 'mine' })
        await expectErrorEnvelope(
          await api('PUT', `/notes/${mine.id}`, { user: ada, body: { parent_id: theirs.id } }),
          422,
          'validation_failed',
        )
        expect((await get(ada, mine.id)).parent_id).toBeNull()
        await expectErrorEnvelope(
          await api('POST', '/notes', { user: ada, body: { parent_id: crypto.randomUUID() } }),
          422,
          'validation_failed',
        )
      })

      it('deletes a note with its whole subtree and their checklist tasks', async ({ sql, ada }) => {
        const top = await create(ada, { title: 'top', content: [checkItem('t1', 'top task')] })
        const mid = await create(ada, {
          title: 'mid',
          parent_id: top.id,
          content: [checkItem('m1', 'mid task')],
        })
        const leaf = await create(ada, { title: 'leaf', parent_id: mid.id })
        const other = await create(ada, { title: 'sibling tree' })
        const response = await api('DELETE', `/notes/${top.id}`, {
          user: ada,
          headers: { 'if-match': etag(top) },
        })
        expect(response.status).toBe(204)
        expect(await response.text()).toBe('')
        for (const id of [top.id, mid.id, leaf.id])
          await expectErrorEnvelope(await api('GET', `/notes/${id}`, { user: ada }), 404, 'not_found')
        expect(
          (await sql`select count(*)::int as n from public.tasks where note_id in (${top.id}, ${mid.id})`)[0]
            .n,
        ).toBe(0)
        await get(ada, other.id)
        await expectErrorEnvelope(await api('DELETE', `/notes/${top.id}`, { user: ada }), 404, 'not_found')
      })
    })

    describe('checklist sync', () => {
      it('makes a task of every checklist item, nested ones too, checked ones done', async ({ ada }) => {
        const note = await create(ada, {
          title: 'Trip',
          content: [
            checkItem('pack', 'Pack bags'),
            paragraph('p', 'notes', [checkItem('tickets', 'Book tickets', true)]),
            checkItem('empty', '  '),
          ],
        })
        // Tasks made in one save list in document order where the clock is finer than PGlite's milliseconds.
        const byBlock = (task: Task) => String(task.source_reference?.block_id)
        const order = ['pack', 'tickets', 'empty']
        const tasks = (await noteTasks(ada, note.id)).sort(
          (x, y) => order.indexOf(byBlock(x)) - order.indexOf(byBlock(y)),
        )
        expect(tasks.map((task) => [task.title, task.status, task.source, task.source_reference])).toEqual([
          ['Pack bags', 'todo', 'note', { note_id: note.id, block_id: 'pack' }],
          ['Book tickets', 'done', 'note', { note_id: note.id, block_id: 'tickets' }],
          ['Untitled task', 'todo', 'note', { note_id: note.id, block_id: 'empty' }],
        ])
        expect(tasks[1].completed_at).toEqual(expect.any(String))
        expect(tasks.every((task) => task.note_id === note.id)).toBe(true)
      })

      it('renames, checks, unchecks, adds and removes tasks as the note is saved', async ({ ada }) => {
        const note = await create(ada, {
          content: [checkItem('a', 'Alpha'), checkItem('b', 'Beta', true), checkItem('c', 'Gamma')],
        })
        const before = Object.fromEntries(
          (await noteTasks(ada, note.id)).map((task) => [task.source_reference?.block_id, task]),
        )
        const [alpha, beta, gamma] = [before.a, before.b, before.c]
        const untouched = gamma.updated_at
        await expectJson(
          await api('PUT', `/notes/${note.id}`, {
            user: ada,
            body: {
              content: [
                checkItem('a', 'Alpha renamed', true),
                checkItem('b', 'Beta'),
                checkItem('c', 'Gamma'),
                checkItem('d', 'Delta'),
              ],
            },
          }),
          200,
        )
        const after = await noteTasks(ada, note.id)
        const byBlock = Object.fromEntries(after.map((task) => [task.source_reference?.block_id, task]))
        expect(byBlock.a).toMatchObject({
          id: alpha.id,
          title: 'Alpha renamed',
          status: 'done',
          completed_at: expect.any(String),
        })
        expect(byBlock.b).toMatchObject({ id: beta.id, title: 'Beta', status: 'todo', completed_at: null })
        expect(byBlock.c).toMatchObject({ id: gamma.id, updated_at: untouched })
        expect(byBlock.d).toMatchObject({ title: 'Delta', status: 'todo' })

        await api('PUT', `/notes/${note.id}`, { user: ada, body: { content: [checkItem('d', 'Delta')] } })
        expect((await noteTasks(ada, note.id)).map((task) => task.source_reference?.block_id)).toEqual(['d'])
        await expectErrorEnvelope(await api('GET', `/tasks/${alpha.id}`, { user: ada }), 404, 'not_found')
      })

      it('leaves a task the user edited with its title, while its checked state still syncs', async ({
        ada,
      }) => {
        const note = await create(ada, { content: [checkItem('x', 'Call mum')] })
        const [task] = await noteTasks(ada, note.id)
        const edited = await expectJson<Task>(
          await api('PUT', `/tasks/${task.id}`, {
            user: ada,
            body: { title: 'Call mum on Sunday', priority: 'high' },
          }),
          200,
        )
        expect(edited.edited_by_user).toBe(true)
        await api('PUT', `/notes/${note.id}`, {
          user: ada,
          body: { content: [checkItem('x', 'Call mum!', true)] },
        })
        const [synced] = await noteTasks(ada, note.id)
        expect(synced).toMatchObject({ id: task.id, title: 'Call mum on Sunday', status: 'done' })
        expect((synced as unknown as { priority: string }).priority).toBe('high')
      })

      it('writes a task’s done/todo back into the note’s checklist, changing the note’s ETag', async ({
        ada,
      }) => {
        const note = await create(ada, {
          content: [paragraph('p', 'list', [checkItem('deep', 'Nested item')]), checkItem('top', 'Top item')],
        })
        const tasks = await noteTasks(ada, note.id)
        const nested = tasks.find((task) => task.source_reference?.block_id === 'deep') as Task
        await expectJson(
          await api('PUT', `/tasks/${nested.id}/status`, { user: ada, body: { status: 'done' } }),
          200,
        )
        const checked = await get(ada, note.id)
        expect((checked.content[0].children[0] as { props: { checked: boolean } }).props.checked).toBe(true)
        expect(checked.updated_at).not.toBe(note.updated_at)
        // A stale If-Match on the note is now refused.
        await expectErrorEnvelope(
          await api('PUT', `/notes/${note.id}`, {
            user: ada,
            body: { title: 'x' },
            headers: { 'if-match': etag(note) },
          }),
          412,
          'precondition_failed',
        )
        await expectJson(
          await api('PUT', `/tasks/${nested.id}`, { user: ada, body: { status: 'todo' } }),
          200,
        )
        const unchecked = await get(ada, note.id)
        expect((unchecked.content[0].children[0] as { props: { checked: boolean } }).props.checked).toBe(
          false,
        )
        // in_progress is not done: the box stays unchecked and the note unchanged.
        await expectJson(
          await api('PUT', `/tasks/${nested.id}/status`, { user: ada, body: { status: 'in_progress' } }),
          200,
        )
        expect((await get(ada, note.id)).updated_at).toBe(unchecked.updated_at)
      })

      it('takes a deleted task’s block out of the note, keeping the block’s children', async ({ ada }) => {
        const note = await create(ada, {
          content: [
            checkItem('gone', 'Remove me', false, [paragraph('kept', 'child survives')]),
            paragraph('p', 'stays'),
          ],
        })
        const [task] = await noteTasks(ada, note.id)
        expect((await api('DELETE', `/tasks/${task.id}`, { user: ada })).status).toBe(204)
        const after = await get(ada, note.id)
        expect(after.content.map((block) => block.id)).toEqual(['kept', 'p'])
        expect(await noteTasks(ada, note.id)).toEqual([])
      })

      it('takes the blocks of checklist tasks deleted with their parent task out of their notes', async ({
        ada,
      }) => {
        const note = await create(ada, {
          content: [checkItem('one', 'One'), checkItem('two', 'Two'), paragraph('p', 'stays')],
        })
        const parent = await expectJson<Task>(
          await api('POST', '/tasks', { user: ada, body: { title: 'Project' } }),
          201,
        )
        for (const task of await noteTasks(ada, note.id)) {
          await expectJson(
            await api('PUT', `/tasks/${task.id}`, { user: ada, body: { parent_id: parent.id } }),
            200,
          )
        }
        expect((await api('DELETE', `/tasks/${parent.id}`, { user: ada })).status).toBe(204)
        expect((await get(ada, note.id)).content.map((block) => block.id)).toEqual(['p'])
        expect(await noteTasks(ada, note.id)).toEqual([])
      })

      it('lists a note’s tasks page by page, and 404 for a note that is not the caller’s', async ({
        ada,
        bob,
      }) => {
        const items = Array.from({ length: 5 }, (_, i) => checkItem(`i${i}`, `Item ${i}`))
        const note = await create(ada, { content: items })
        const seen = await walkPages<Task>(api, `/notes/${note.id}/tasks?limit=2`, ada)
        expect(seen.map((task) => task.title).sort()).toEqual(items.map((_, i) => `Item ${i}`))
        await expectErrorEnvelope(
          await api('GET', `/notes/${note.id}/tasks`, { user: bob }),
          404,
          'not_found',
        )
        await expectErrorEnvelope(
          await api('GET', `/notes/${crypto.randomUUID()}/tasks`, { user: ada }),
          404,
          'not_found',
        )
        const empty = await create(ada, { title: 'no checklist' })
        expect(await noteTasks(ada, empty.id)).toEqual([])
      })
    })

    describe('Idempotency-Key', () => {
      it('replays the first response to a repeat, and refuses the key for another body with 409', async ({
        sql,
        ada,
        bob,
      }) => {
        const key = crypto.randomUUID()
        const body = { title: 'Once', content: [checkItem('k', 'Only once')] }
        const first = await api('POST', '/notes', { user: ada, body, headers: { 'idempotency-key': key } })
        const note = await expectJson<Note>(first, 201)
        const again = await api('POST', '/notes', { user: ada, body, headers: { 'idempotency-key': key } })
        expect(await expectJson<Note>(again, 201)).toEqual(note)
        expect(again.headers.get('idempotent-replayed')).toBe('true')
        expect(again.headers.get('etag')).toBe(etag(note))
        expect(
          (
            await sql`select count(*)::int as n from public.notes where title = 'Once' and user_id = ${ada.id}`
          )[0].n,
        ).toBe(1)
        expect(await noteTasks(ada, note.id)).toHaveLength(1)

        await expectErrorEnvelope(
          await api('POST', '/notes', {
            user: ada,
            body: { title: 'Twice' },
            headers: { 'idempotency-key': key },
          }),
          409,
          'conflict',
        )
        // Keys are per user: the same key from someone else is theirs alone.
        expect(
          (
            await expectJson<Note>(
              await api('POST', '/notes', { user: bob, body, headers: { 'idempotency-key': key } }),
              201,
            )
          ).user_id,
        ).toBe(bob.id)
      })

      it('claims a key again once its 24 hours are over, and keeps no key for a failed request', async ({
        sql,
        ada,
      }) => {
        const key = crypto.randomUUID()
        const first = await expectJson<Note>(
          await api('POST', '/notes', {
            user: ada,
            body: { title: 'day one' },
            headers: { 'idempotency-key': key },
          }),
          201,
        )
        await sql`update public.idempotency_keys set created_at = now() - interval '25 hours' where key = ${key}`
        const second = await expectJson<Note>(
          await api('POST', '/notes', {
            user: ada,
            body: { title: 'day two' },
            headers: { 'idempotency-key': key },
          }),
          201,
        )
        expect(second.id).not.toBe(first.id)

        const failing = crypto.randomUUID()
        await expectErrorEnvelope(
          await api('POST', '/notes', {
            user: ada,
            body: { parent_id: crypto.randomUUID() },
            headers: { 'idempotency-key': failing },
          }),
          422,
          'validation_failed',
        )
        expect(
          (await sql`select count(*)::int as n from public.idempotency_keys where key = ${failing}`)[0].n,
        ).toBe(0)
        await expectErrorEnvelope(
          await api('POST', '/notes', {
            user: ada,
            body: {},
            headers: { 'idempotency-key': 'k'.repeat(256) },
          }),
          422,
          'validation_failed',
        )
      })
    })
  })
}
