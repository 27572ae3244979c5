import { expect } from 'vitest'
import { scenarios } from './harness.ts'
import { call, delegate, say } from './script.ts'

// The coordinator and its crew: a specialist's answer relayed, a specialist the user turned off,
// a specialist that does not exist, and a specialist that tries to hand the work on (no loops).

interface Page<T> {
  data: T[]
}

scenarios('delegation', (scenario) => {
  scenario(
    'relays the knowledge agent’s answer, found in the user’s notes, with its source',
    async (world) => {
      const note = await world.note('Trip to Lisbon', [
        'Flight TP1351 leaves at 07:40 from terminal 1',
        'Hotel: Casa do Bairro, check-in from 15:00',
      ])
      await world.note('Work', ['Quarterly review on the 12th'])
      world.script(
        delegate('knowledge', 'When does the user’s flight to Lisbon leave?'),
        (sent) => {
          expect(sent.system).toContain('Keeper of the user’s notes')
          expect(sent.lastUser).toBe('When does the user’s flight to Lisbon leave?')
          expect(sent.tools).not.toContain('delegate')
          return call('list_notes', { q: 'Lisbon flight' })
        },
        (sent) => {
          const [found] = sent.result<Page<{ id: string; title: string; text: string }>>('list_notes').data
          const line = found.text.split('\n').find((l) => l.startsWith('Flight'))
          return say(`${line} (from your note “${found.title}”).`)
        },
        (sent) => {
          const { agent_id, answer } = sent.result<{ agent_id: string; answer: string }>('delegate')
          expect(agent_id).toBe('knowledge')
          return say(`Your notes say: ${answer}`)
        },
      )
      const { run, steps, answer, messages, broadcasts } = await world.ask(
        'When does my flight to Lisbon leave?',
      )

      expect(run.status).toBe('succeeded')
      // Subscribers saw the hand-off and the specialist's tool work; only the coordinator's words stream.
      expect(broadcasts.filter((b) => b.event !== 'token').map((b) => b.event)).toEqual([
        'run_started',
        'tool_call',
        'delegated',
        'tool_call',
        'tool_result',
        'tool_result',
        'run_finished',
      ])
      expect(broadcasts.find((b) => b.event === 'delegated')?.payload).toMatchObject({
        from: 'coordinator',
        to: 'knowledge',
        task: 'When does the user’s flight to Lisbon leave?',
      })
      expect(answer).toMatchObject({
        agent_id: 'coordinator',
        content:
          'Your notes say: Flight TP1351 leaves at 07:40 from terminal 1 (from your note “Trip to Lisbon”).',
      })
      const delegation = steps.find((step) => step.kind === 'delegation')
      expect(delegation).toMatchObject({
        name: 'knowledge',
        agent_id: 'coordinator',
        input: { arguments: { agent_id: 'knowledge', task: 'When does the user’s flight to Lisbon leave?' } },
        output: { result: { agent_id: 'knowledge' } },
        error: null,
      })
      // The specialist's search is its own step; nothing was written but messages.
      expect(steps.filter((s) => s.kind === 'tool_call').map((s) => [s.agent_id, s.name])).toEqual([
        ['knowledge', 'list_notes'],
      ])
      expect(messages.map((m) => `${m.role}:${m.agent_id ?? ''}`)).toEqual([
        'user:',
        'tool:knowledge',
        'tool:coordinator',
        'assistant:coordinator',
      ])
      expect((await world.row('notes', note.id)).source).toBe('manual')
      expect(await world.tasks()).toEqual([])
    },
  )

  scenario(
    'a specialist the user turned off is not run; the coordinator says so and nothing changes',
    async (world) => {
      await world
        .api('PUT', '/ai/agents/task_manager', { enabled: false })
        .then((r) => expect(r.status).toBe(200))
      world.script(delegate('task_manager', 'Create a task: renew the car insurance'), (sent) => {
        const result = sent.results.at(-1)
        expect(result?.error).toMatchObject({
          code: 'conflict',
          message: 'Task manager is turned off by the user',
        })
        return say('Your task manager is turned off, so I could not add it.')
      })
      const { run, steps, answer } = await world.ask('Add a task to renew the car insurance')

      expect(run.status).toBe('succeeded')
      expect(steps.map((s) => s.kind)).toEqual(['context', 'model_call', 'delegation', 'model_call'])
      expect(steps[2]).toMatchObject({ name: 'task_manager', error: { code: 'conflict' } })
      expect(answer?.content).toContain('turned off')
      expect(await world.tasks()).toEqual([])
    },
  )

  scenario(
    'a delegation to a specialist that does not exist comes back as an error; the model picks a real one',
    async (world) => {
      world.script(
        delegate('secretary', 'Add a task: send the invoice'),
        (sent) => {
          const { error } = sent.results.at(-1) ?? {}
          expect(error?.code).toBe('validation_failed')
          expect(error?.message).toContain('task_manager')
          return delegate('task_manager', 'Add a task: send the invoice')
        },
        call('create_task', { title: 'Send the invoice' }),
        say('Added “Send the invoice”.'),
        (sent) => say(sent.result<{ answer: string }>('delegate').answer),
      )
      const { run, steps, answer } = await world.ask('Remind me to send the invoice')

      expect(run.status).toBe('succeeded')
      expect(
        steps.filter((s) => s.kind === 'delegation').map((s) => [s.name, s.error?.code ?? 'ok']),
      ).toEqual([
        ['secretary', 'validation_failed'],
        ['task_manager', 'ok'],
      ])
      const [task] = await world.tasks()
      expect(task).toMatchObject({
        title: 'Send the invoice',
        source: 'agent',
        source_reference: world.reference(run, 'task_manager'),
      })
      expect(answer?.content).toBe('Added “Send the invoice”.')
    },
  )

  scenario(
    'a specialist cannot hand the work on: it has no delegation tool, so there is no loop',
    async (world) => {
      world.script(
        delegate('task_manager', 'Tidy up my tasks'),
        (sent) => {
          expect(sent.tools).not.toContain('delegate')
          return delegate('coordinator', 'You do it')
        },
        (sent) => {
          expect(sent.results.at(-1)?.error).toMatchObject({
            code: 'not_found',
            message: 'There is no tool named delegate',
          })
          return say('There was nothing to tidy.')
        },
        say('The task manager found nothing to tidy.'),
      )
      const { run, steps } = await world.ask('Tidy up my tasks')

      expect(run.status).toBe('succeeded')
      expect(steps.map((s) => [s.kind, s.agent_id, s.error?.code ?? 'ok'])).toEqual([
        ['context', 'coordinator', 'ok'],
        ['model_call', 'coordinator', 'ok'],
        ['model_call', 'task_manager', 'ok'],
        ['tool_call', 'task_manager', 'not_found'],
        ['model_call', 'task_manager', 'ok'],
        ['delegation', 'coordinator', 'ok'],
        ['model_call', 'coordinator', 'ok'],
      ])
    },
  )
})
