import { expect } from 'vitest'
import { scenarios } from './harness.ts'
import { addDays, call, calls, delegate, say, weekday } from './script.ts'

// The task manager at work: a meeting note becomes tasks with due dates, and "mark these done"
// in a conversation that continues.

interface Page<T> {
  data: T[]
}
interface TaskRow {
  id: string
  title: string
  status: string
  due_date: string | null
}

/** The next Friday after `today` (a week on if today is Friday). */
const nextFriday = (today: string) => addDays(today, (5 - weekday(today) + 7) % 7 || 7)

scenarios('tasks', (scenario) => {
  scenario('turns a meeting note into tasks with due dates worked out from today', async (world) => {
    const note = await world.note('Design sync', [
      'Design sync with Anna and Tom',
      '- Send Anna the mockups by Friday',
      '- Review the budget in two days',
      '- Book the offsite room',
    ])
    const other = await world.note('Groceries', ['- Milk'])
    world.script(
      call('list_notes', { q: 'design sync' }),
      (sent) => {
        const found = sent.result<Page<{ id: string; title: string }>>('list_notes').data
        return call('read_note', { id: found.find((n) => n.title === 'Design sync')?.id })
      },
      // The model reads the note as text and works the dates out from the date in its prompt.
      (sent) => {
        const { text } = sent.result<{ text: string }>('read_note')
        const items = text
          .split('\n')
          .filter((line) => line.startsWith('- '))
          .map((line) => line.slice(2))
        return calls(
          ...items.map((item): [string, Record<string, unknown>] => {
            const due = / by Friday$/.test(item)
              ? nextFriday(sent.today)
              : / in two days$/.test(item)
                ? addDays(sent.today, 2)
                : null
            return [
              'create_task',
              {
                title: item.replace(/ (by Friday|in two days)$/, ''),
                due_date: due,
                ...(due === null ? {} : { priority: 'high' }),
                metadata: { note_id: note.id },
              },
            ]
          }),
        )
      },
      say(
        'From your design sync I made three tasks: the mockups for Friday, the budget review, and the offsite.',
      ),
    )
    const { run, tools, messages, answer, sent } = await world.ask('Turn my design sync note into tasks', {
      agent: 'task_manager',
    })

    expect(run.status).toBe('succeeded')
    const today = sent[0].today
    expect(today).toMatch(/^\d{4}-\d\d-\d\d$/)
    const made = await world.tasks(world.sql`and metadata ->> 'note_id' = ${note.id}`)
    expect(made.map(({ title, due_date, priority }) => ({ title, due_date, priority }))).toEqual([
      { title: 'Send Anna the mockups', due_date: nextFriday(today), priority: 'high' },
      { title: 'Review the budget', due_date: addDays(today, 2), priority: 'high' },
      { title: 'Book the offsite room', due_date: null, priority: 'medium' },
    ])
    for (const task of made) {
      expect(task).toMatchObject({ source: 'agent', status: 'todo', edited_by_user: false })
      expect(task.source_reference).toEqual(world.reference(run, 'task_manager'))
    }
    // The note itself is as it was, and the other note made nothing.
    expect((await world.row('notes', note.id)).content).toHaveLength(4)
    expect(await world.tasks(world.sql`and metadata ->> 'note_id' = ${other.id}`)).toEqual([])
    expect(tools.map((step) => [step.name, step.error])).toEqual([
      ['list_notes', null],
      ['read_note', null],
      ['create_task', null],
      ['create_task', null],
      ['create_task', null],
    ])
    expect(messages.map((m) => `${m.role}:${m.agent_id ?? m.addressee}`)).toEqual([
      'user:task_manager',
      ...Array(5).fill('tool:task_manager'),
      'assistant:task_manager',
    ])
    expect(answer?.content).toContain('three tasks')
  })

  scenario('“mark these done”: the second turn completes what the first one listed', async (world) => {
    const today = new Date().toISOString().slice(0, 10)
    const first = await world.task({ title: 'Pay the rent', due_date: today })
    const second = await world.task({ title: 'Call the plumber', due_date: today, priority: 'high' })
    const later = await world.task({ title: 'Plan the holidays', due_date: addDays(today, 20) })
    const dueToday = (sent: { today: string }) =>
      call('list_tasks', {
        status: ['todo', 'in_progress'],
        due_before: addDays(sent.today, 1),
        sort: 'due_date',
      })

    world.script(dueToday, (sent) => {
      const tasks = sent.result<Page<TaskRow>>('list_tasks').data
      return say(`Due today: ${tasks.map((task) => task.title).join(' and ')}.`)
    })
    const listed = await world.ask('What is due today?')
    expect(listed.run.status).toBe('succeeded')
    expect(listed.answer?.content).toMatch(
      /^Due today: (Pay the rent and Call the plumber|Call the plumber and Pay the rent)\.$/,
    )

    // The second turn: the coordinator has its first answer in the history and hands the titles to
    // the task manager, who looks them up and completes them (the coordinator cannot change tasks).
    world.script(
      (sent) => {
        expect(sent.messages.map((m) => [m.role, m.text])).toEqual([
          ['user', 'What is due today?'],
          ['assistant', listed.answer?.content],
          ['user', 'Mark these done'],
        ])
        expect(sent.tools).not.toContain('complete_task')
        return delegate(
          'task_manager',
          `Mark done: ${sent.messages[1].text.replace(/^Due today: |\.$/g, '')}`,
        )
      },
      (sent) => dueToday(sent),
      (sent) => {
        const tasks = sent.result<Page<TaskRow>>('list_tasks').data
        const named = tasks.filter((task) => sent.lastUser.includes(task.title))
        return calls(
          ...named.map((task): [string, Record<string, unknown>] => ['complete_task', { id: task.id }]),
        )
      },
      (sent) =>
        say(`Completed ${sent.results.filter((r) => r.name === 'complete_task' && !r.error).length} tasks.`),
      (sent) => say(`Done: the task manager says “${sent.result<{ answer: string }>('delegate').answer}”`),
    )
    const done = await world.ask('Mark these done')
    expect(done.run.status).toBe('succeeded')
    expect(
      done.steps.map((step) => [step.kind, step.agent_id, step.kind === 'model_call' ? '' : step.name]),
    ).toEqual([
      ['context', 'coordinator', 'context'],
      ['model_call', 'coordinator', ''],
      ['model_call', 'task_manager', ''],
      ['tool_call', 'task_manager', 'list_tasks'],
      ['model_call', 'task_manager', ''],
      ['tool_call', 'task_manager', 'complete_task'],
      ['tool_call', 'task_manager', 'complete_task'],
      ['model_call', 'task_manager', ''],
      ['delegation', 'coordinator', 'task_manager'],
      ['model_call', 'coordinator', ''],
    ])
    expect(done.answer?.content).toBe('Done: the task manager says “Completed 2 tasks.”')

    for (const task of [first, second]) {
      const row = await world.row('tasks', task.id)
      expect(row).toMatchObject({ status: 'done', source: 'manual', edited_by_user: false })
      expect(row.completed_at).not.toBeNull()
    }
    expect(await world.row('tasks', later.id)).toMatchObject({ status: 'todo', completed_at: null })
    // The two runs are one conversation: four messages of the user and the agent, tool messages between.
    const conversation = await world.sql`
      select role::text from public.messages where conversation_id = ${world.conversationId} and role <> 'tool'
      order by created_at, id`
    expect(conversation.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant'])
  })
})
