import { expect } from 'vitest'
import { app as aiApp } from '../../../functions/ai/app.ts'
import { stack } from '../../helpers/stack.ts'
import { type Run, scenarios, type World } from './harness.ts'
import { call, say } from './script.ts'

// What makes an agent's work trustworthy (issue 10): a bulk change and a delete wait for the user's
// approval (the default policy, `destructive`), a refused change is not made, a run is taken back
// with undo, and a scheduled check-in runs on its own, exactly as a conversation would.

interface Waiting {
  status: string
  approvals: Array<{ action_id: string; tool: string; reason: string; change: { count: number } }>
}

const waitingOf = async (world: World, run: Run) =>
  (await (await world.api('GET', `/ai/runs/${run.id}`)).json()) as Waiting

async function decide(world: World, run: Run, approve: boolean, note?: string) {
  const waiting = await waitingOf(world, run)
  const response = await world.api('POST', `/ai/runs/${run.id}/approval`, {
    decisions: waiting.approvals.map((approval) => ({ action_id: approval.action_id, approve, note })),
  })
  expect(response.status, await response.clone().text()).toBe(202)
  return waiting
}

const dayAfter = (date: string) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)

scenarios('trust', (scenario) => {
  scenario(
    '“move everything due today to tomorrow”: a bulk change waits for approval, then moves exactly those',
    async (world) => {
      const [{ today }] = await world.sql`select current_date::text as today`
      const due: Array<{ id: string }> = []
      for (let i = 0; i < 12; i++) due.push(await world.task({ title: `Errand ${i}`, due_date: today }))
      const later = await world.task({ title: 'Later', due_date: dayAfter(dayAfter(today)) })
      world.script(
        (sent) =>
          call('update_tasks', {
            filter: { due_date: sent.today },
            changes: { due_date: dayAfter(sent.today) },
          }),
        (sent) => {
          expect(sent.result<{ updated?: unknown[] }>('update_tasks')).toBeTruthy()
          return say('Moved your 12 tasks to tomorrow.')
        },
      )
      const from = world.sent.length
      const paused = await world.ask('Move everything due today to tomorrow', { agent: 'planner' })
      expect(paused.run.status).toBe('awaiting_approval')
      // Nothing moved while it waits.
      expect((await world.tasks()).filter((task) => task.due_date === today)).toHaveLength(12)
      const waiting = await decide(world, paused.run, true)
      expect(waiting.approvals.map((a) => [a.tool, a.reason, a.change.count])).toEqual([
        ['update_tasks', 'bulk', 12],
      ])

      const { run } = await world.settle(paused.run, from)
      expect(run.status).toBe('succeeded')
      const tasks = await world.tasks()
      expect(tasks.filter((task) => due.some((d) => d.id === task.id)).map((task) => task.due_date)).toEqual(
        Array(12).fill(dayAfter(today)),
      )
      expect(tasks.find((task) => task.id === later.id)?.due_date).toBe(dayAfter(dayAfter(today)))
    },
  )

  scenario('“delete my goal”: the delete waits, the user refuses, the goal stays', async (world) => {
    const goal = await world.goal({ title: 'Learn the cello' })
    world.script(call('list_goals', {}), call('delete_goal', { id: goal.id }), (sent) => {
      const refused = sent.results.find((result) => result.name === 'delete_goal')
      expect(refused?.error?.code).toBe('refused')
      expect(refused?.text).toContain('I still want it')
      return say('I kept your goal.')
    })
    const from = world.sent.length
    const paused = await world.ask('Delete my cello goal', { agent: 'goal_coach' })
    expect(paused.run.status).toBe('awaiting_approval')
    const waiting = await decide(world, paused.run, false, 'I still want it')
    expect(waiting.approvals.map((a) => [a.tool, a.reason])).toEqual([['delete_goal', 'delete']])
    const { run } = await world.settle(paused.run, from)
    expect(run.status).toBe('succeeded')
    expect(await world.row('goals', goal.id)).toMatchObject({ title: 'Learn the cello' })
  })

  scenario(
    '“undo that”: the last run is taken back, newest first, and a second undo has nothing to do',
    async (world) => {
      const kept = await world.task({ title: 'Pay the rent', priority: 'low' })
      world.script(
        call('create_task', { title: 'Book the venue' }),
        call('update_task', { id: kept.id, changes: { priority: 'high' } }),
        say('Booked and reprioritised.'),
      )
      const { run } = await world.ask('Book the venue and make the rent urgent', { agent: 'task_manager' })
      expect(run.status).toBe('succeeded')
      expect((await world.tasks()).map((task) => [task.title, task.priority])).toEqual([
        ['Pay the rent', 'high'],
        ['Book the venue', 'medium'],
      ])

      const undone = await world.api('POST', `/ai/runs/${run.id}/undo`, {})
      expect(undone.status).toBe(200)
      const result = (await undone.json()) as {
        reverted: Array<{ operation: string }>
        already_undone: boolean
      }
      expect(result.reverted.map((action) => action.operation)).toEqual(['update', 'insert'])
      expect((await world.tasks()).map((task) => [task.title, task.priority])).toEqual([
        ['Pay the rent', 'low'],
      ])
      const again = await world.api('POST', `/ai/runs/${run.id}/undo`, {})
      expect(again.status).toBe(200)
      expect(await again.json()).toMatchObject({ reverted: [], already_undone: true })
    },
  )

  scenario(
    'a scheduled daily plan: due, it starts a run of the planner in its own conversation',
    async (world) => {
      await world.task({
        title: 'Write the report',
        due_date: (await world.sql`select current_date::text as d`)[0].d,
      })
      const created = await world.api('POST', '/ai/schedules', { kind: 'daily_plan' })
      expect(created.status).toBe(201)
      const schedule = (await created.json()) as { id: string; agent_id: string }
      expect(schedule.agent_id).toBe('planner')
      await world.sql`update public.schedules set next_run_at = now() - interval '1 minute' where id = ${schedule.id}`
      world.script((sent) => {
        expect(sent.system).toContain('Write the report')
        return say('Today: write the report first.')
      })

      const due = await aiApp.request('/ai/schedules/due', {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.serviceRoleKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ user_ids: [world.ada.id] }),
      })
      expect(due.status, await due.clone().text()).toBe(200)
      const [row] = await world.sql<
        Array<{ last_run_id: string; conversation_id: string; next_run_at: Date }>
      >`
      select last_run_id, conversation_id, next_run_at from public.schedules where id = ${schedule.id}`
      expect(row.last_run_id).toEqual(expect.any(String))
      expect(row.next_run_at.getTime()).toBeGreaterThan(Date.now())
      const [started] = await world.sql<Run[]>`select * from public.agent_runs where id = ${row.last_run_id}`
      world.runs.push(started)
      const { run, answer } = await world.settle(started)
      expect(run).toMatchObject({
        status: 'succeeded',
        agent_id: 'planner',
        conversation_id: row.conversation_id,
      })
      expect(row.conversation_id).not.toBe(world.conversationId)
      expect(answer?.content).toBe('Today: write the report first.')

      // A second check at the same moment starts nothing more.
      const again = await aiApp.request('/ai/schedules/due', {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.serviceRoleKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ user_ids: [world.ada.id] }),
      })
      expect(again.status).toBe(200)
      const [{ runs }] =
        await world.sql`select count(*)::int as runs from public.agent_runs where user_id = ${world.ada.id}`
      expect(runs).toBe(1)
    },
  )
})
