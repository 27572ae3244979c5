import { expect } from 'vitest'
import { scenarios } from './harness.ts'
import { addDays, call, calls, delegate, say } from './script.ts'

// The planner, reached through the coordinator: it reads the open tasks and the active goals and
// gives each task a day of the week ahead; the coordinator relays the plan.

interface Page<T> {
  data: T[]
}
interface TaskRow {
  id: string
  title: string
  status: string
  priority: string
  due_date: string | null
}

const urgency = ['urgent', 'high', 'medium', 'low']

scenarios('planning', (scenario) => {
  scenario(
    '“plan my week”: the coordinator hands it to the planner, who dates the open tasks',
    async (world) => {
      const today = new Date().toISOString().slice(0, 10)
      const goal = await world.goal({
        title: 'Ship the beta',
        timeframe: 'monthly',
        status: 'in_progress',
        progress: 40,
      })
      await world.goal({ title: 'Run a half marathon', timeframe: 'yearly', status: 'not_started' })
      const overdue = await world.task({
        title: 'Write the beta release notes',
        priority: 'high',
        due_date: addDays(today, -2),
      })
      const undated = await world.task({ title: 'Fix the login bug', priority: 'urgent' })
      const someday = await world.task({ title: 'Order running shoes', priority: 'low' })
      const finished = await world.task({
        title: 'Set up the beta server',
        status: 'done',
        due_date: addDays(today, -5),
      })

      world.script(
        // The coordinator: the user's words go to the planner.
        (sent) => {
          expect(sent.tools).toContain('delegate')
          return delegate('planner', 'Plan the user’s week from their open tasks and active goals')
        },
        // The planner reads what there is.
        (sent) => {
          expect(sent.system).toContain('Planner of days and weeks')
          expect(sent.system).toMatch(/Ship the beta \(id [0-9a-f-]+; monthly, in_progress, 40%\)/)
          expect(sent.system).toContain('Write the beta release notes')
          expect(sent.system).toMatch(/due \d{4}-\d\d-\d\d, overdue\)/)
          return calls(
            ['list_tasks', { status: ['todo', 'in_progress'], sort: 'priority' }],
            ['list_goals', { status: ['in_progress', 'not_started'] }],
          )
        },
        // One task a day from today, the most urgent first; the goals only inform the order.
        (sent) => {
          const tasks = sent.result<Page<TaskRow>>('list_tasks').data
          const goals = sent.result<Page<{ title: string }>>('list_goals').data
          expect(goals.map((g) => g.title).sort()).toEqual(['Run a half marathon', 'Ship the beta'])
          const ordered = [...tasks].sort((a, b) => urgency.indexOf(a.priority) - urgency.indexOf(b.priority))
          return calls(
            ...ordered.map((task, day): [string, Record<string, unknown>] => [
              'update_task',
              { id: task.id, changes: { due_date: addDays(sent.today, day) } },
            ]),
          )
        },
        (sent) => {
          const planned = sent.results
            .filter((r) => r.name === 'update_task' && !r.error)
            .map((r) => `${(r.json as TaskRow).due_date}: ${(r.json as TaskRow).title}`)
          return say(`Your week: ${planned.join('; ')}.`)
        },
        // The coordinator relays the plan.
        (sent) => say(sent.result<{ answer: string }>('delegate').answer),
      )
      const { run, steps, messages, answer } = await world.ask('Plan my week from my tasks and goals')

      expect(run).toMatchObject({
        status: 'succeeded',
        agent_id: 'coordinator',
        model: world.model,
        error: null,
      })
      const planned = {
        [undated.id]: today,
        [overdue.id]: addDays(today, 1),
        [someday.id]: addDays(today, 2),
      }
      for (const [id, date] of Object.entries(planned)) {
        expect(await world.row('tasks', id)).toMatchObject({
          due_date: date,
          status: 'todo',
          source: 'manual',
          edited_by_user: false,
        })
      }
      // The finished task and the goals are as they were.
      expect(await world.row('tasks', finished.id)).toMatchObject({
        status: 'done',
        due_date: addDays(today, -5),
      })
      expect(await world.row('goals', goal.id)).toMatchObject({ progress: 40, status: 'in_progress' })

      expect(
        steps.map((step) => [step.kind, step.agent_id, step.kind === 'model_call' ? '' : step.name]),
      ).toEqual([
        ['context', 'coordinator', 'context'],
        ['model_call', 'coordinator', ''],
        ['model_call', 'planner', ''],
        ['tool_call', 'planner', 'list_tasks'],
        ['tool_call', 'planner', 'list_goals'],
        ['model_call', 'planner', ''],
        ['tool_call', 'planner', 'update_task'],
        ['tool_call', 'planner', 'update_task'],
        ['tool_call', 'planner', 'update_task'],
        ['model_call', 'planner', ''],
        ['delegation', 'coordinator', 'planner'],
        ['model_call', 'coordinator', ''],
      ])
      const expected = `Your week: ${today}: Fix the login bug; ${addDays(today, 1)}: Write the beta release notes; ${addDays(today, 2)}: Order running shoes.`
      expect(steps.find((step) => step.kind === 'delegation')?.output).toEqual({
        result: { agent_id: 'planner', answer: expected },
      })
      expect(answer).toMatchObject({ agent_id: 'coordinator', content: expected })
      expect(
        messages.filter((m) => m.role === 'tool').map((m) => `${m.agent_id}:${m.metadata.tool_name}`),
      ).toEqual([
        'planner:list_tasks',
        'planner:list_goals',
        'planner:update_task',
        'planner:update_task',
        'planner:update_task',
        'coordinator:delegate',
      ])
    },
  )

  scenario(
    'the planner, addressed directly, moves what is overdue to the coming days and says what does not fit',
    async (world) => {
      const today = new Date().toISOString().slice(0, 10)
      const late = await world.task({
        title: 'Renew the passport',
        due_date: addDays(today, -3),
        priority: 'high',
      })
      const later = await world.task({ title: 'Clean the garage', due_date: addDays(today, -1) })
      const fine = await world.task({ title: 'Dentist', due_date: addDays(today, 3) })

      world.script(
        (sent) => call('list_tasks', { status: ['todo'], due_before: sent.today, sort: 'due_date' }),
        (sent) => {
          const overdue = sent.result<Page<TaskRow>>('list_tasks').data
          return calls(
            ...overdue.map((task, index): [string, Record<string, unknown>] => [
              'update_task',
              // The model asks for its changes in the wrong shape once…
              index === 0
                ? { id: task.id, due_date: addDays(sent.today, 1) }
                : { id: task.id, changes: { due_date: addDays(sent.today, 2) } },
            ]),
          )
        },
        // …and sends it again as the error says.
        (sent) => {
          const failed = sent.results.find((r) => r.error)
          expect(failed?.error?.code).toBe('validation_failed')
          const first = sent.messages.flatMap((m) => m.toolCalls).find((c) => c.id === failed?.id)
          return call('update_task', { id: first?.args.id, changes: { due_date: addDays(sent.today, 1) } })
        },
        say('The passport is tomorrow, the garage the day after; nothing else had slipped.'),
      )
      const { run, tools } = await world.ask('Move my overdue tasks into this week', { agent: 'planner' })

      expect(run.status).toBe('succeeded')
      expect(tools.map((step) => [step.name, step.error?.code ?? 'ok'])).toEqual([
        ['list_tasks', 'ok'],
        ['update_task', 'validation_failed'],
        ['update_task', 'ok'],
        ['update_task', 'ok'],
      ])
      expect(await world.row('tasks', late.id)).toMatchObject({ due_date: addDays(today, 1) })
      expect(await world.row('tasks', later.id)).toMatchObject({ due_date: addDays(today, 2) })
      expect(await world.row('tasks', fine.id)).toMatchObject({ due_date: addDays(today, 3) })
    },
  )
})
