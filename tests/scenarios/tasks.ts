import type postgres from 'postgres'
import { describe, expect } from 'vitest'
import type { Task } from '../../shared/tasks/schemas.ts'
import { etag, expectJson, type Page, type Target, walkPages } from '../helpers/domain.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { test } from '../helpers/fixtures.ts'
import { createUser, type TestUser } from '../helpers/stack.ts'

/** Every route of the tasks function. */
export function tasksScenarios({ name, api }: Target) {
  const create = async (user: TestUser, body: Record<string, unknown>) =>
    expectJson<Task>(await api('POST', '/tasks', { user, body }), 201)
  const get = async (user: TestUser, id: string) =>
    expectJson<Task>(await api('GET', `/tasks/${id}`, { user }), 200)
  const put = (user: TestUser, path: string, body: unknown, headers: Record<string, string> = {}) =>
    api('PUT', path, { user, body, headers })
  const count = async (sql: postgres.Sql, user: TestUser) =>
    (await sql`select count(*)::int as n from public.tasks where user_id = ${user.id}`)[0].n as number

  // What the list tests read: one user's tasks, made once, for the first of them.
  const it = test.extend('listed', { scope: 'file' }, async ({ sql }) => {
    const user = await createUser('planner')
    const tasks: Record<string, Task> = {}
    tasks.parent = await create(user, { title: 'Move house', priority: 'urgent', due_date: '2031-06-01' })
    tasks.child = await create(user, {
      title: 'Pack kitchen',
      parent_id: tasks.parent.id,
      due_date: '2031-05-20',
      due_time: '18:00',
    })
    tasks.morning = await create(user, {
      title: 'Call landlord',
      due_date: '2031-05-20',
      due_time: '08:00',
      priority: 'high',
    })
    tasks.done = await create(user, {
      title: 'Order boxes',
      status: 'done',
      priority: 'low',
      due_date: '2031-05-01',
    })
    tasks.doing = await create(user, {
      title: 'Sort books',
      status: 'in_progress',
      description: 'Donate the paperbacks',
    })
    tasks.cancelled = await create(user, { title: 'Rent van', status: 'cancelled', priority: 'high' })
    await sql`
      update public.tasks set source = 'agent', source_reference = ${sql.json({ message_id: crypto.randomUUID() })}
      where id = ${tasks.cancelled.id}`

    const ids = async (query: string) =>
      (await expectJson<Page<Task>>(await api('GET', `/tasks${query}`, { user }), 200)).data.map(
        (task) => task.id,
      )
    const set = async (query: string) => (await ids(query)).sort()
    const of = (...names: string[]) => names.map((key) => tasks[key].id).sort()
    return { user, tasks, ids, set, of }
  })

  describe(`tasks (${name})`, () => {
    describe('create and get', () => {
      it('creates a manual task with defaults, answering 201, the row and its ETag', async ({ ada }) => {
        const response = await api('POST', '/tasks', { user: ada, body: { title: ' Write report ' } })
        const task = await expectJson<Task>(response, 201)
        expect(task).toEqual({
          id: expect.any(String),
          user_id: ada.id,
          parent_id: null,
          note_id: null,
          title: 'Write report',
          description: null,
          status: 'todo',
          priority: 'medium',
          due_date: null,
          due_time: null,
          source: 'manual',
          source_reference: null,
          completed_at: null,
          edited_by_user: false,
          metadata: {},
          created_at: expect.stringMatching(/Z$/),
          updated_at: task.created_at,
        })
        expect(response.headers.get('etag')).toBe(etag(task))
        const fetched = await api('GET', `/tasks/${task.id}`, { user: ada })
        expect(await expectJson(fetched, 200)).toEqual(task)
        expect(fetched.headers.get('etag')).toBe(etag(task))
      })

      it('keeps a due date and time; a task created done is completed now', async ({ ada }) => {
        const task = await create(ada, {
          title: 'Dentist',
          description: 'Bring the card',
          due_date: '2031-04-05',
          due_time: '09:30',
          priority: 'high',
          status: 'done',
          metadata: { room: 4 },
        })
        expect(task).toMatchObject({
          due_date: '2031-04-05',
          due_time: '09:30:00',
          priority: 'high',
          status: 'done',
          completed_at: expect.any(String),
          metadata: { room: 4 },
        })
      })

      it.for([
        ['a due time without a due date', { title: 'x', due_time: '10:00' }, 'due_time'],
        ['an empty title', { title: '   ' }, 'title'],
        ['an unknown status', { title: 'x', status: 'blocked' }, 'status'],
        ['an unknown priority', { title: 'x', priority: 'critical' }, 'priority'],
        ['a malformed date', { title: 'x', due_date: '2031-02-30' }, 'due_date'],
        ['a malformed time', { title: 'x', due_date: '2031-02-01', due_time: '25:00' }, 'due_time'],
        ['an unknown field', { title: 'x', assignee: 'bob' }, ''],
        ['a source (only agents set one)', { title: 'x', source: 'note' }, ''],
      ])('refuses %s with 422, storing nothing', async ([_, body, path], { sql, ada }) => {
        const before = await count(sql, ada)
        const error = await expectErrorEnvelope(
          await api('POST', '/tasks', { user: ada, body }),
          422,
          'validation_failed',
        )
        expect(error.details?.map((detail) => detail.path)).toContain(path)
        expect(await count(sql, ada)).toBe(before)
      })
    })

    describe('list', () => {
      it('lists newest first by default', async ({ listed: { tasks, ids } }) => {
        expect(await ids('')).toEqual(
          ['cancelled', 'doing', 'done', 'morning', 'child', 'parent'].map((key) => tasks[key].id),
        )
      })

      it('filters by one or several statuses (repeated or comma-separated)', async ({
        listed: { set, of },
      }) => {
        expect(await set('?status=done')).toEqual(of('done'))
        expect(await set('?status=todo&status=in_progress')).toEqual(
          of('parent', 'child', 'morning', 'doing'),
        )
        expect(await set('?status=done,cancelled')).toEqual(of('done', 'cancelled'))
      })

      it('filters by priority, due dates, parent, source and text', async ({
        listed: { tasks, set, of },
      }) => {
        expect(await set('?priority=high')).toEqual(of('morning', 'cancelled'))
        expect(await set('?priority=urgent,low')).toEqual(of('parent', 'done'))
        expect(await set('?due_before=2031-05-20')).toEqual(of('done'))
        expect(await set('?due_after=2031-05-01')).toEqual(of('parent', 'child', 'morning'))
        expect(await set('?due_after=2031-05-01&due_before=2031-06-01')).toEqual(of('child', 'morning'))
        expect(await set(`?parent_id=${tasks.parent.id}`)).toEqual(of('child'))
        expect(await set('?parent_id=root')).not.toContain(tasks.child.id)
        expect(await set('?source=agent')).toEqual(of('cancelled'))
        expect(await set('?source=manual')).toHaveLength(5)
        expect(await set('?q=kitchen')).toEqual(of('child'))
        expect(await set('?q=paperbacks')).toEqual(of('doing'))
        expect(await set('?q=landlord&status=done')).toEqual([])
      })

      it('sorts by due date (soonest first, by time within a day, undated last), priority and creation', async ({
        listed: { tasks, ids, of },
      }) => {
        const byDue = await ids('?sort=due_date')
        expect(byDue.slice(0, 4)).toEqual(['done', 'morning', 'child', 'parent'].map((key) => tasks[key].id))
        // Undated tasks come last, in id order among themselves.
        expect(byDue.slice(4).sort()).toEqual(of('doing', 'cancelled'))
        const byDueDesc = await ids('?sort=due_date&order=desc')
        expect(byDueDesc.slice(2)).toEqual(['parent', 'child', 'morning', 'done'].map((key) => tasks[key].id))
        const byPriority = await ids('?sort=priority')
        expect(byPriority).toEqual(
          ['parent', 'cancelled', 'morning', 'doing', 'child', 'done'].map((key) => tasks[key].id),
        )
        expect(await ids('?sort=priority&order=asc')).toEqual([...byPriority].reverse())
        expect(await ids('?sort=created_at&order=asc')).toEqual(
          ['parent', 'child', 'morning', 'done', 'doing', 'cancelled'].map((key) => tasks[key].id),
        )
      })

      it('refuses bad filters and a cursor of another sort with 422', async ({ listed: { user } }) => {
        for (const query of [
          '?status=blocked',
          '?sort=title',
          '?order=up',
          '?due_before=tomorrow',
          '?parent_id=x',
          '?limit=500',
        ]) {
          await expectErrorEnvelope(await api('GET', `/tasks${query}`, { user }), 422, 'validation_failed')
        }
        const page = await expectJson<Page<Task>>(
          await api('GET', '/tasks?limit=1&sort=priority', { user }),
          200,
        )
        const cursor = encodeURIComponent(String(page.next_cursor))
        await expectErrorEnvelope(
          await api('GET', `/tasks?sort=created_at&cursor=${cursor}`, { user }),
          422,
          'validation_failed',
        )
        await expectErrorEnvelope(
          await api('GET', `/tasks?sort=priority&order=asc&cursor=${cursor}`, { user }),
          422,
          'validation_failed',
        )
      })

      it.each(['created_at', 'due_date', 'priority'])(
        'pages by %s: every task once and in order, while tasks are added between pages',
        async (sort) => {
          const pager = await createUser(`pager-${sort}`)
          const priorities = ['low', 'medium', 'high', 'urgent']
          for (let i = 0; i < 9; i++) {
            await create(pager, {
              title: `t${i}`,
              priority: priorities[i % 4],
              ...(i % 3 === 0
                ? {}
                : { due_date: `2031-01-0${1 + (i % 4)}`, ...(i % 2 ? { due_time: '12:00' } : {}) }),
            })
          }
          const originals = (
            await expectJson<Page<Task>>(
              await api('GET', `/tasks?sort=${sort}&limit=100`, { user: pager }),
              200,
            )
          ).data
          let added = 0
          const seen = await walkPages<Task>(api, `/tasks?sort=${sort}&limit=2`, pager, async () => {
            await create(pager, { title: `new ${added++}`, priority: 'medium', due_date: '2031-01-02' })
          })
          const originalIds = originals.map((task) => task.id)
          expect(new Set(seen.map((task) => task.id)).size).toBe(seen.length)
          expect(seen.map((task) => task.id).filter((id) => originalIds.includes(id))).toEqual(originalIds)
        },
      )
    })

    describe('update', () => {
      it('changes only the fields given and marks the task as edited', async ({ ada }) => {
        const task = await create(ada, { title: 'Draft', description: 'first', due_date: '2031-01-01' })
        const response = await put(ada, `/tasks/${task.id}`, { description: null, due_time: '10:15' })
        const updated = await expectJson<Task>(response, 200)
        expect(updated).toEqual({
          ...task,
          description: null,
          due_time: '10:15:00',
          edited_by_user: true,
          updated_at: expect.any(String),
        })
        expect(response.headers.get('etag')).toBe(etag(updated))
        expect(await expectJson(await put(ada, `/tasks/${task.id}`, {}), 200)).toEqual(updated)
      })

      it('refuses a due time on a task without a due date, and clearing the date under a time, with 422', async ({
        ada,
      }) => {
        const task = await create(ada, { title: 'Undated' })
        const error = await expectErrorEnvelope(
          await put(ada, `/tasks/${task.id}`, { due_time: '10:00' }),
          422,
          'validation_failed',
        )
        expect(error.details).toEqual([{ path: 'due_time', message: 'A due time needs a due date' }])
        const timed = await create(ada, { title: 'Timed', due_date: '2031-01-01', due_time: '10:00' })
        await expectErrorEnvelope(
          await put(ada, `/tasks/${timed.id}`, { due_date: null }),
          422,
          'validation_failed',
        )
        await expectErrorEnvelope(
          await put(ada, `/tasks/${timed.id}`, { due_date: null, due_time: '11:00' }),
          422,
          'validation_failed',
        )
        expect(
          await expectJson(await put(ada, `/tasks/${timed.id}`, { due_date: null, due_time: null }), 200),
        ).toMatchObject({
          due_date: null,
          due_time: null,
        })
        expect(await get(ada, task.id)).toEqual(task)
      })

      it('refuses unknown and read-only fields with 422', async ({ ada, bob }) => {
        const task = await create(ada, { title: 'Strict' })
        for (const body of [
          { owner: 'x' },
          { source: 'agent' },
          { completed_at: null },
          { note_id: null },
          { user_id: bob.id },
        ]) {
          await expectErrorEnvelope(await put(ada, `/tasks/${task.id}`, body), 422, 'validation_failed')
        }
        expect(await get(ada, task.id)).toEqual(task)
      })

      it('applies If-Match to updates, status changes and deletes: stale is 412 with nothing changed', async ({
        ada,
      }) => {
        const task = await create(ada, { title: 'v1' })
        const v2 = await expectJson<Task>(
          await put(ada, `/tasks/${task.id}`, { title: 'v2' }, { 'if-match': etag(task) }),
          200,
        )
        await expectErrorEnvelope(
          await put(ada, `/tasks/${task.id}`, { title: 'v3' }, { 'if-match': etag(task) }),
          412,
          'precondition_failed',
        )
        await expectErrorEnvelope(
          await put(ada, `/tasks/${task.id}/status`, { status: 'done' }, { 'if-match': etag(task) }),
          412,
          'precondition_failed',
        )
        await expectErrorEnvelope(
          await api('DELETE', `/tasks/${task.id}`, { user: ada, headers: { 'if-match': etag(task) } }),
          412,
          'precondition_failed',
        )
        expect(await get(ada, task.id)).toEqual(v2)
        const v3 = await expectJson<Task>(
          await put(ada, `/tasks/${task.id}/status`, { status: 'done' }, { 'if-match': etag(v2) }),
          200,
        )
        expect(
          (await api('DELETE', `/tasks/${task.id}`, { user: ada, headers: { 'if-match': etag(v3) } })).status,
        ).toBe(204)
        await expectErrorEnvelope(await api('GET', `/tasks/${task.id}`, { user: ada }), 404, 'not_found')
      })
    })

    describe('status', () => {
      it('sets completed_at when done, keeps it while done, and clears it otherwise', async ({ ada }) => {
        const task = await create(ada, { title: 'Finish' })
        const done = await expectJson<Task>(
          await put(ada, `/tasks/${task.id}/status`, { status: 'done' }),
          200,
        )
        expect(done.status).toBe('done')
        expect(done.completed_at).toEqual(expect.any(String))
        expect(done.edited_by_user).toBe(false)
        const again = await expectJson<Task>(
          await put(ada, `/tasks/${task.id}/status`, { status: 'done' }),
          200,
        )
        expect(again.completed_at).toBe(done.completed_at)
        for (const status of ['in_progress', 'cancelled', 'todo']) {
          const changed = await expectJson<Task>(await put(ada, `/tasks/${task.id}/status`, { status }), 200)
          expect(changed).toMatchObject({ status, completed_at: null })
        }
        const viaUpdate = await expectJson<Task>(await put(ada, `/tasks/${task.id}`, { status: 'done' }), 200)
        expect(viaUpdate.completed_at).toEqual(expect.any(String))
      })

      it('refuses an unknown status or extra fields with 422', async ({ ada }) => {
        const task = await create(ada, { title: 'Strict status' })
        await expectErrorEnvelope(
          await put(ada, `/tasks/${task.id}/status`, { status: 'finished' }),
          422,
          'validation_failed',
        )
        await expectErrorEnvelope(
          await put(ada, `/tasks/${task.id}/status`, { status: 'done', title: 'x' }),
          422,
          'validation_failed',
        )
        await expectErrorEnvelope(await put(ada, `/tasks/${task.id}/status`, {}), 422, 'validation_failed')
        expect(await get(ada, task.id)).toEqual(task)
      })
    })

    describe('subtasks', () => {
      it('nests tasks, refuses cycles with 409 and deletes subtasks with their parent', async ({ ada }) => {
        const a = await create(ada, { title: 'a' })
        const b = await create(ada, { title: 'b', parent_id: a.id })
        const c = await create(ada, { title: 'c', parent_id: b.id })
        await expectErrorEnvelope(await put(ada, `/tasks/${a.id}`, { parent_id: a.id }), 409, 'conflict')
        await expectErrorEnvelope(await put(ada, `/tasks/${a.id}`, { parent_id: c.id }), 409, 'conflict')
        expect((await get(ada, a.id)).parent_id).toBeNull()
        expect(
          (await expectJson<Task>(await put(ada, `/tasks/${c.id}`, { parent_id: a.id }), 200)).parent_id,
        ).toBe(a.id)
        expect((await api('DELETE', `/tasks/${a.id}`, { user: ada })).status).toBe(204)
        for (const id of [a.id, b.id, c.id])
          await expectErrorEnvelope(await api('GET', `/tasks/${id}`, { user: ada }), 404, 'not_found')
      })

      it('refuses another user’s task as parent with 422, linking nothing', async ({ sql, ada, bob }) => {
        const theirs = await create(bob, { title: 'bob’s' })
        const before = await count(sql, ada)
        const error = await expectErrorEnvelope(
          await api('POST', '/tasks', { user: ada, body: { title: 'sneaky', parent_id: theirs.id } }),
          422,
          'validation_failed',
        )
        expect(error.details).toEqual([{ path: 'parent_id', message: 'No such task' }])
        expect(await count(sql, ada)).toBe(before)
        const mine = await create(ada, { title: 'mine' })
        await expectErrorEnvelope(
          await put(ada, `/tasks/${mine.id}`, { parent_id: theirs.id }),
          422,
          'validation_failed',
        )
        expect((await get(ada, mine.id)).parent_id).toBeNull()
        expect(
          (await sql`select count(*)::int as n from public.tasks where parent_id = ${theirs.id}`)[0].n,
        ).toBe(0)
      })
    })

    describe('Idempotency-Key', () => {
      it('replays the first response to a repeat and refuses the key for another body with 409', async ({
        sql,
        ada,
      }) => {
        const key = crypto.randomUUID()
        const body = { title: 'Pay rent', due_date: '2031-02-01' }
        const first = await expectJson<Task>(
          await api('POST', '/tasks', { user: ada, body, headers: { 'idempotency-key': key } }),
          201,
        )
        const again = await api('POST', '/tasks', { user: ada, body, headers: { 'idempotency-key': key } })
        expect(await expectJson(again, 201)).toEqual(first)
        expect(again.headers.get('idempotent-replayed')).toBe('true')
        expect(
          (
            await sql`select count(*)::int as n from public.tasks where user_id = ${ada.id} and title = 'Pay rent'`
          )[0].n,
        ).toBe(1)
        await expectErrorEnvelope(
          await api('POST', '/tasks', {
            user: ada,
            body: { ...body, priority: 'high' },
            headers: { 'idempotency-key': key },
          }),
          409,
          'conflict',
        )
        // Without a key, a repeat is a new task.
        await create(ada, body)
        expect(
          (
            await sql`select count(*)::int as n from public.tasks where user_id = ${ada.id} and title = 'Pay rent'`
          )[0].n,
        ).toBe(2)
      })
    })
  })
}
