import { describe, expect } from 'vitest'
import type { Goal, GoalWithSubGoals, Reflection } from '../../shared/planning/schemas.ts'
import { etag, expectJson, type Page, type Target, walkPages } from '../helpers/domain.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { it } from '../helpers/fixtures.ts'
import { createUser, type TestUser } from '../helpers/stack.ts'

/** Every route of the planning function: goals and reflections. */
export function planningScenarios({ name, api }: Target) {
  describe(`planning (${name})`, () => {
    const createGoal = async (user: TestUser, body: Record<string, unknown>) =>
      expectJson<Goal>(await api('POST', '/planning/goals', { user, body }), 201)
    const getGoal = async (user: TestUser, id: string) =>
      expectJson<GoalWithSubGoals>(await api('GET', `/planning/goals/${id}`, { user }), 200)
    const putGoal = (user: TestUser, id: string, body: unknown, headers: Record<string, string> = {}) =>
      api('PUT', `/planning/goals/${id}`, { user, body, headers })
    const createReflection = async (user: TestUser, body: Record<string, unknown>) =>
      expectJson<Reflection>(await api('POST', '/planning/reflections', { user, body }), 201)

    describe('goals', () => {
      it('creates a goal with defaults, answering 201, the row and its ETag', async ({ ada }) => {
        const response = await api('POST', '/planning/goals', {
          user: ada,
          body: { title: 'Run a marathon', timeframe: 'yearly' },
        })
        const goal = await expectJson<Goal>(response, 201)
        expect(goal).toEqual({
          id: expect.any(String),
          user_id: ada.id,
          parent_goal_id: null,
          title: 'Run a marathon',
          description: null,
          timeframe: 'yearly',
          status: 'not_started',
          progress: 0,
          priority: 'medium',
          due_date: null,
          metadata: {},
          created_at: expect.stringMatching(/Z$/),
          updated_at: goal.created_at,
        })
        expect(response.headers.get('etag')).toBe(etag(goal))
      })

      it('gets a goal with its direct sub-goals, oldest first, and its ETag', async ({ ada }) => {
        const year = await createGoal(ada, { title: 'Write a book', timeframe: 'yearly' })
        const q1 = await createGoal(ada, {
          title: 'Outline',
          timeframe: 'quarterly',
          parent_goal_id: year.id,
        })
        const q2 = await createGoal(ada, {
          title: 'First draft',
          timeframe: 'quarterly',
          parent_goal_id: year.id,
        })
        const week = await createGoal(ada, { title: 'Chapter 1', timeframe: 'weekly', parent_goal_id: q2.id })
        const response = await api('GET', `/planning/goals/${year.id}`, { user: ada })
        const fetched = await expectJson<Goal>(response, 200)
        expect(fetched).toEqual({ ...year, sub_goals: [q1, q2] })
        expect(response.headers.get('etag')).toBe(etag(year))
        expect((await getGoal(ada, q2.id)).sub_goals).toEqual([week])
        expect((await getGoal(ada, week.id)).sub_goals).toEqual([])
      })

      it.for([
        ['a progress over 100', { title: 'x', timeframe: 'daily', progress: 101 }, 'progress'],
        ['a negative progress', { title: 'x', timeframe: 'daily', progress: -1 }, 'progress'],
        ['a fractional progress', { title: 'x', timeframe: 'daily', progress: 1.5 }, 'progress'],
        ['an unknown timeframe', { title: 'x', timeframe: 'decade' }, 'timeframe'],
        ['a missing timeframe', { title: 'x' }, 'timeframe'],
        ['an unknown status', { title: 'x', timeframe: 'daily', status: 'done' }, 'status'],
        ['an unknown field', { title: 'x', timeframe: 'daily', owner: 'me' }, ''],
      ])('refuses %s with 422', async ([_, body, path], { ada }) => {
        const error = await expectErrorEnvelope(
          await api('POST', '/planning/goals', { user: ada, body }),
          422,
          'validation_failed',
        )
        expect(error.details?.map((detail) => detail.path)).toContain(path)
      })

      it('keeps a parent’s timeframe at least as long as its sub-goals’ (422 otherwise)', async ({ ada }) => {
        const month = await createGoal(ada, { title: 'Month', timeframe: 'monthly' })
        const error = await expectErrorEnvelope(
          await api('POST', '/planning/goals', {
            user: ada,
            body: { title: 'Too long', timeframe: 'yearly', parent_goal_id: month.id },
          }),
          422,
          'validation_failed',
        )
        expect(error.details?.[0].path).toBe('timeframe')
        await createGoal(ada, { title: 'Same length', timeframe: 'monthly', parent_goal_id: month.id })
        const day = await createGoal(ada, { title: 'Day', timeframe: 'daily', parent_goal_id: month.id })
        // Neither the child may grow past its parent nor the parent shrink below its children.
        await expectErrorEnvelope(
          await putGoal(ada, day.id, { timeframe: 'quarterly' }),
          422,
          'validation_failed',
        )
        await expectErrorEnvelope(
          await putGoal(ada, month.id, { timeframe: 'weekly' }),
          422,
          'validation_failed',
        )
        expect(
          (await expectJson<Goal>(await putGoal(ada, month.id, { timeframe: 'life' }), 200)).timeframe,
        ).toBe('life')
        expect((await getGoal(ada, day.id)).timeframe).toBe('daily')
      })

      it('refuses a goal under itself or its own sub-goal with 409', async ({ ada }) => {
        const a = await createGoal(ada, { title: 'a', timeframe: 'yearly' })
        const b = await createGoal(ada, { title: 'b', timeframe: 'yearly', parent_goal_id: a.id })
        await expectErrorEnvelope(await putGoal(ada, a.id, { parent_goal_id: a.id }), 409, 'conflict')
        await expectErrorEnvelope(await putGoal(ada, a.id, { parent_goal_id: b.id }), 409, 'conflict')
        expect((await getGoal(ada, a.id)).parent_goal_id).toBeNull()
      })

      it('refuses another user’s goal as parent with 422, linking nothing', async ({ sql, ada, bob }) => {
        const theirs = await createGoal(bob, { title: 'bob’s', timeframe: 'life' })
        const error = await expectErrorEnvelope(
          await api('POST', '/planning/goals', {
            user: ada,
            body: { title: 'x', timeframe: 'daily', parent_goal_id: theirs.id },
          }),
          422,
          'validation_failed',
        )
        expect(error.details).toEqual([{ path: 'parent_goal_id', message: 'No such goal' }])
        const mine = await createGoal(ada, { title: 'mine', timeframe: 'daily' })
        await expectErrorEnvelope(
          await putGoal(ada, mine.id, { parent_goal_id: theirs.id }),
          422,
          'validation_failed',
        )
        expect(
          (await sql`select count(*)::int as n from public.goals where parent_goal_id = ${theirs.id}`)[0].n,
        ).toBe(0)
      })

      it('updates only the fields given; If-Match guards updates and deletes (412, nothing changed)', async ({
        ada,
        bob,
      }) => {
        const goal = await createGoal(ada, {
          title: 'Read',
          timeframe: 'monthly',
          description: 'twelve books',
        })
        const response = await putGoal(
          ada,
          goal.id,
          { progress: 40, status: 'in_progress' },
          { 'if-match': etag(goal) },
        )
        const updated = await expectJson<Goal>(response, 200)
        expect(updated).toEqual({
          ...goal,
          progress: 40,
          status: 'in_progress',
          updated_at: expect.any(String),
        })
        expect(response.headers.get('etag')).toBe(etag(updated))
        await expectErrorEnvelope(
          await putGoal(ada, goal.id, { progress: 50 }, { 'if-match': etag(goal) }),
          412,
          'precondition_failed',
        )
        await expectErrorEnvelope(
          await api('DELETE', `/planning/goals/${goal.id}`, {
            user: ada,
            headers: { 'if-match': etag(goal) },
          }),
          412,
          'precondition_failed',
        )
        await expectErrorEnvelope(await putGoal(ada, goal.id, { progress: 500 }), 422, 'validation_failed')
        await expectErrorEnvelope(await putGoal(ada, goal.id, { user_id: bob.id }), 422, 'validation_failed')
        const { sub_goals, ...current } = await getGoal(ada, goal.id)
        expect(sub_goals).toEqual([])
        expect(current).toEqual(updated)
      })

      it('deletes a goal; its sub-goals become top-level goals', async ({ ada }) => {
        const parent = await createGoal(ada, { title: 'parent', timeframe: 'quarterly' })
        const child = await createGoal(ada, {
          title: 'child',
          timeframe: 'weekly',
          parent_goal_id: parent.id,
        })
        const response = await api('DELETE', `/planning/goals/${parent.id}`, {
          user: ada,
          headers: { 'if-match': etag(parent) },
        })
        expect(response.status).toBe(204)
        await expectErrorEnvelope(
          await api('GET', `/planning/goals/${parent.id}`, { user: ada }),
          404,
          'not_found',
        )
        expect((await getGoal(ada, child.id)).parent_goal_id).toBeNull()
      })

      it('lists newest first, filtered by timeframe, status and parent_goal_id (or root)', async () => {
        const user = await createUser('goal-lister')
        const life = await createGoal(user, { title: 'life', timeframe: 'life', status: 'in_progress' })
        const year = await createGoal(user, { title: 'year', timeframe: 'yearly', parent_goal_id: life.id })
        const week = await createGoal(user, {
          title: 'week',
          timeframe: 'weekly',
          status: 'completed',
          progress: 100,
        })
        const ids = async (query: string) =>
          (await expectJson<Page<Goal>>(await api('GET', `/planning/goals${query}`, { user }), 200)).data.map(
            (goal) => goal.id,
          )
        expect(await ids('')).toEqual([week.id, year.id, life.id])
        expect(await ids('?timeframe=yearly')).toEqual([year.id])
        expect(await ids('?timeframe=life,weekly')).toEqual([week.id, life.id])
        expect(await ids('?status=completed')).toEqual([week.id])
        expect(await ids('?status=in_progress&status=not_started')).toEqual([year.id, life.id])
        expect(await ids(`?parent_goal_id=${life.id}`)).toEqual([year.id])
        expect(await ids('?parent_goal_id=root')).toEqual([week.id, life.id])
        for (const query of ['?timeframe=decade', '?status=done', '?parent_goal_id=abc', '?cursor=%%%']) {
          await expectErrorEnvelope(
            await api('GET', `/planning/goals${query}`, { user }),
            422,
            'validation_failed',
          )
        }
      })

      it('finds goals by words in their title or description (q, full text), only the user’s own', async ({
        ada,
      }) => {
        const user = await createUser('goal-searcher')
        const marathon = await createGoal(user, { title: 'Run a marathon', timeframe: 'yearly' })
        const spanish = await createGoal(user, {
          title: 'Learn a language',
          description: 'Spanish, so the trip to Sevilla is easier',
          timeframe: 'yearly',
        })
        await createGoal(user, { title: 'Read twelve books', timeframe: 'yearly' })
        // Ada's goal has the same words: never in this user's results.
        await createGoal(ada, { title: 'Run a marathon too', timeframe: 'yearly' })
        const ids = async (query: string) =>
          (await expectJson<Page<Goal>>(await api('GET', `/planning/goals${query}`, { user }), 200)).data.map(
            (goal) => goal.id,
          )
        expect(await ids('?q=marathon')).toEqual([marathon.id])
        expect(await ids('?q=sevilla')).toEqual([spanish.id])
        expect(await ids(`?q=${encodeURIComponent('learn OR marathon')}`)).toEqual([spanish.id, marathon.id])
        expect(await ids('?q=marathon&timeframe=weekly')).toEqual([])
        expect(await ids('?q=unicycle')).toEqual([])
        for (const query of ['?q=', `?q=${'x'.repeat(201)}`]) {
          await expectErrorEnvelope(
            await api('GET', `/planning/goals${query}`, { user }),
            422,
            'validation_failed',
          )
        }
      })

      it('pages by keyset: every goal once and in order, while goals are added between pages', async () => {
        const user = await createUser('goal-pager')
        for (let i = 0; i < 7; i++) await createGoal(user, { title: `g${i}`, timeframe: 'daily' })
        const all = (
          await expectJson<Page<Goal>>(await api('GET', '/planning/goals?limit=100', { user }), 200)
        ).data
        const seen = await walkPages<Goal>(api, '/planning/goals?limit=3', user, async () => {
          await createGoal(user, { title: 'meanwhile', timeframe: 'daily' })
        })
        expect(seen.map((goal) => goal.id)).toEqual(all.map((goal) => goal.id))
      })

      it('replays a repeated Idempotency-Key and refuses it for another body with 409', async ({
        sql,
        ada,
      }) => {
        const key = crypto.randomUUID()
        const body = { title: 'Learn Dutch', timeframe: 'yearly' }
        const first = await expectJson<Goal>(
          await api('POST', '/planning/goals', { user: ada, body, headers: { 'idempotency-key': key } }),
          201,
        )
        const again = await api('POST', '/planning/goals', {
          user: ada,
          body,
          headers: { 'idempotency-key': key },
        })
        expect(await expectJson(again, 201)).toEqual(first)
        expect(again.headers.get('idempotent-replayed')).toBe('true')
        await expectErrorEnvelope(
          await api('POST', '/planning/goals', {
            user: ada,
            body: { ...body, timeframe: 'life' },
            headers: { 'idempotency-key': key },
          }),
          409,
          'conflict',
        )
        expect(
          (
            await sql`select count(*)::int as n from public.goals where user_id = ${ada.id} and title = 'Learn Dutch'`
          )[0].n,
        ).toBe(1)
      })
    })

    describe('reflections', () => {
      it('creates, gets and deletes a reflection, with ETags and If-Match', async ({ ada }) => {
        const response = await api('POST', '/planning/reflections', {
          user: ada,
          body: { reflection_type: 'daily', content: 'Good focus today.', mood: 4, title: ' Tuesday ' },
        })
        const reflection = await expectJson<Reflection>(response, 201)
        expect(reflection).toEqual({
          id: expect.any(String),
          user_id: ada.id,
          reflection_type: 'daily',
          title: 'Tuesday',
          content: 'Good focus today.',
          mood: 4,
          metadata: {},
          created_at: expect.stringMatching(/Z$/),
          updated_at: reflection.created_at,
        })
        expect(response.headers.get('etag')).toBe(etag(reflection))
        const fetched = await api('GET', `/planning/reflections/${reflection.id}`, { user: ada })
        expect(await expectJson(fetched, 200)).toEqual(reflection)
        expect(fetched.headers.get('etag')).toBe(etag(reflection))
        await expectErrorEnvelope(
          await api('DELETE', `/planning/reflections/${reflection.id}`, {
            user: ada,
            headers: { 'if-match': '"2000-01-01T00:00:00Z"' },
          }),
          412,
          'precondition_failed',
        )
        const deleted = await api('DELETE', `/planning/reflections/${reflection.id}`, {
          user: ada,
          headers: { 'if-match': etag(reflection) },
        })
        expect(deleted.status).toBe(204)
        await expectErrorEnvelope(
          await api('GET', `/planning/reflections/${reflection.id}`, { user: ada }),
          404,
          'not_found',
        )
      })

      it.for([
        ['an empty content', { reflection_type: 'daily', content: '' }, 'content'],
        ['a mood of 6', { reflection_type: 'daily', content: 'x', mood: 6 }, 'mood'],
        ['an unknown type', { reflection_type: 'hourly', content: 'x' }, 'reflection_type'],
        ['an unknown field', { reflection_type: 'daily', content: 'x', weather: 'rain' }, ''],
      ])('refuses %s with 422', async ([_, body, path], { ada }) => {
        const error = await expectErrorEnvelope(
          await api('POST', '/planning/reflections', { user: ada, body }),
          422,
          'validation_failed',
        )
        expect(error.details?.map((detail) => detail.path)).toContain(path)
      })

      it('lists newest first, filtered by type and by a created_at range (dates are whole UTC days)', async ({
        sql,
      }) => {
        const user = await createUser('reflector')
        const made: Record<string, Reflection> = {}
        const at: Record<string, string> = {
          jan: '2031-01-15T10:00:00Z',
          febStart: '2031-02-01T00:00:00Z',
          febEnd: '2031-02-28T23:59:59.5Z',
          mar: '2031-03-03T12:00:00Z',
        }
        for (const [key, time] of Object.entries(at)) {
          made[key] = await createReflection(user, {
            reflection_type: key === 'mar' ? 'monthly' : 'daily',
            content: key,
          })
          await sql`update public.reflections set created_at = ${time}::timestamptz where id = ${made[key].id}`
        }
        const ids = async (query: string) =>
          (
            await expectJson<Page<Reflection>>(
              await api('GET', `/planning/reflections${query}`, { user }),
              200,
            )
          ).data.map((reflection) => reflection.content)
        expect(await ids('')).toEqual(['mar', 'febEnd', 'febStart', 'jan'])
        expect(await ids('?reflection_type=monthly')).toEqual(['mar'])
        expect(await ids('?reflection_type=daily,weekly')).toEqual(['febEnd', 'febStart', 'jan'])
        expect(await ids('?from=2031-02-01&to=2031-02-28')).toEqual(['febEnd', 'febStart'])
        expect(await ids('?from=2031-02-01T00:00:01Z')).toEqual(['mar', 'febEnd'])
        expect(await ids(`?to=${encodeURIComponent('2031-02-01T00:00:00Z')}`)).toEqual(['febStart', 'jan'])
        expect(await ids(`?from=${encodeURIComponent('2031-01-15T11:00:00+01:00')}&to=2031-01-15`)).toEqual([
          'jan',
        ])
        for (const query of ['?from=yesterday', '?to=2031-13-01', '?reflection_type=hourly']) {
          await expectErrorEnvelope(
            await api('GET', `/planning/reflections${query}`, { user }),
            422,
            'validation_failed',
          )
        }
      })

      it('pages by keyset while reflections are added between pages', async () => {
        const user = await createUser('reflection-pager')
        for (let i = 0; i < 5; i++)
          await createReflection(user, { reflection_type: 'freeform', content: `r${i}` })
        const all = (
          await expectJson<Page<Reflection>>(
            await api('GET', '/planning/reflections?limit=100', { user }),
            200,
          )
        ).data
        const seen = await walkPages<Reflection>(api, '/planning/reflections?limit=2', user, async () => {
          await createReflection(user, { reflection_type: 'freeform', content: 'meanwhile' })
        })
        expect(seen.map((reflection) => reflection.id)).toEqual(all.map((reflection) => reflection.id))
      })

      it('replays a repeated Idempotency-Key and refuses it for another body with 409', async ({ ada }) => {
        const key = crypto.randomUUID()
        const body = { reflection_type: 'weekly', content: 'A calm week.' }
        const first = await expectJson<Reflection>(
          await api('POST', '/planning/reflections', {
            user: ada,
            body,
            headers: { 'idempotency-key': key },
          }),
          201,
        )
        const again = await api('POST', '/planning/reflections', {
          user: ada,
          body,
          headers: { 'idempotency-key': key },
        })
        expect(await expectJson(again, 201)).toEqual(first)
        await expectErrorEnvelope(
          await api('POST', '/planning/reflections', {
            user: ada,
            body: { ...body, mood: 2 },
            headers: { 'idempotency-key': key },
          }),
          409,
          'conflict',
        )
        // One key may name different operations: a goal with the same key is a new goal.
        await createGoal(ada, { title: 'same key, other route', timeframe: 'daily' })
        expect(
          (
            await api('POST', '/planning/goals', {
              user: ada,
              body: { title: 'k', timeframe: 'daily' },
              headers: { 'idempotency-key': key },
            })
          ).status,
        ).toBe(201)
      })
    })
  })
}
