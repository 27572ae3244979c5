import { expect } from 'vitest'
import { MODELS, scenarios } from './harness.ts'
import { call, calls, delegate, down, hang, say } from './script.ts'

// Models that go wrong and providers that fail: bad tool arguments corrected, tools that do not
// exist, a model that loops until the run's limits stop it, a run cancelled mid-way, and providers
// that go down in the middle of a run.

scenarios('robustness', (scenario) => {
  scenario(
    'a model that calls tools with bad arguments reads the errors and corrects itself',
    async (world) => {
      const task = await world.task({ title: 'Call the bank' })
      world.script(
        calls(
          ['create_task', { title: 'Book flights', priority: 'critical' }],
          ['create_task', { title: 'Pick up the suit', due_time: '17:00' }],
          ['complete_task', { id: 'the bank task' }],
          ['remove_task', { id: task.id }],
        ),
        (sent) => {
          const [priority, time, id, unknown] = sent.results
          expect(priority.error).toMatchObject({ code: 'validation_failed' })
          expect(priority.text).toContain('priority')
          expect(time.error).toMatchObject({ code: 'validation_failed' })
          expect(time.text).toContain('due')
          expect(id.error).toMatchObject({ code: 'validation_failed' })
          expect(unknown.error).toMatchObject({
            code: 'not_found',
            message: 'There is no tool named remove_task',
          })
          return calls(
            ['create_task', { title: 'Book flights', priority: 'urgent' }],
            ['create_task', { title: 'Pick up the suit', due_date: '2031-03-07', due_time: '17:00' }],
            ['complete_task', { id: task.id }],
          )
        },
        say('Booked flights (urgent), the suit on Friday at five, and the bank call is done.'),
      )
      const { run, tools, messages } = await world.ask('Flights, the suit, and I called the bank', {
        agent: 'task_manager',
      })

      expect(run.status).toBe('succeeded')
      expect(tools.map((s) => [s.name, s.error?.code ?? 'ok'])).toEqual([
        ['create_task', 'validation_failed'],
        ['create_task', 'validation_failed'],
        ['complete_task', 'validation_failed'],
        ['remove_task', 'not_found'],
        ['create_task', 'ok'],
        ['create_task', 'ok'],
        ['complete_task', 'ok'],
      ])
      // The failed calls changed nothing: exactly the corrected tasks exist.
      const tasks = await world.tasks()
      expect(tasks.map((t) => [t.title, t.priority, t.due_date, t.due_time, t.status])).toEqual([
        ['Call the bank', 'medium', null, null, 'done'],
        ['Book flights', 'urgent', null, null, 'todo'],
        ['Pick up the suit', 'medium', '2031-03-07', '17:00:00', 'todo'],
      ])
      expect(messages.filter((m) => m.role === 'tool').map((m) => m.metadata.is_error)).toEqual([
        true,
        true,
        true,
        true,
        false,
        false,
        false,
      ])
    },
  )

  scenario(
    'a model that keeps calling tools is stopped at the run’s limit of model calls, and says so',
    async (world) => {
      world.limit({ maxModelCalls: 4, maxToolCalls: 20 })
      world.always(call('list_tasks', {}, 'Let me look again.'))
      const { run, steps, answer, sent } = await world.ask('Find everything', { agent: 'task_manager' })

      expect(run.status).toBe('succeeded')
      expect(sent).toHaveLength(4)
      expect(steps.filter((s) => s.kind === 'model_call')).toHaveLength(4)
      // The last call's tools are not run: the run ends there.
      expect(steps.filter((s) => s.kind === 'tool_call')).toHaveLength(3)
      expect(answer?.content).toMatch(
        /^Let me look again\.(\n\nLet me look again\.){3}\n\n\(Stopped: this run reached its limit of 4 model calls\.\)$/,
      )
    },
  )

  scenario('tool calls over the run’s limit are refused to the model, which then answers', async (world) => {
    world.limit({ maxModelCalls: 8, maxToolCalls: 3 })
    world.script(
      calls(['create_task', { title: 'One' }], ['create_task', { title: 'Two' }]),
      calls(['create_task', { title: 'Three' }], ['create_task', { title: 'Four' }]),
      (sent) => {
        expect(sent.results.at(-1)?.error).toMatchObject({
          code: 'limit_reached',
          message: 'A run may call at most 3 tools; answer now',
        })
        return say('I made three of the four; add the last one yourself.')
      },
    )
    const { run, tools } = await world.ask('Make four tasks', { agent: 'task_manager' })

    expect(run.status).toBe('succeeded')
    expect(tools.map((s) => s.error?.code ?? 'ok')).toEqual(['ok', 'ok', 'ok', 'limit_reached'])
    expect((await world.tasks()).map((t) => t.title)).toEqual(['One', 'Two', 'Three'])
  })

  scenario(
    'a specialist that loops uses up the run’s model calls: the coordinator is not called past the limit',
    async (world) => {
      world.limit({ maxModelCalls: 4, maxToolCalls: 20 })
      world.script(delegate('task_manager', 'Find all my tasks'))
      world.always(call('search_tasks', { q: 'anything' }))
      const { run, steps, answer, sent } = await world.ask('Find all my tasks')

      expect(run.status).toBe('succeeded')
      expect(sent).toHaveLength(4)
      expect(steps.filter((s) => s.kind === 'model_call').map((s) => s.agent_id)).toEqual([
        'coordinator',
        'task_manager',
        'task_manager',
        'task_manager',
      ])
      expect(answer?.content).toContain('(Stopped: this run reached its limit of 4 model calls.)')
    },
  )

  scenario(
    'two delegations in one turn: the second specialist is not run once the first used the model calls',
    async (world) => {
      world.limit({ maxModelCalls: 3, maxToolCalls: 20 })
      world.script(
        calls(
          ['delegate', { agent_id: 'task_manager', task: 'List the tasks' }],
          ['delegate', { agent_id: 'knowledge', task: 'List the notes' }],
        ),
        call('list_tasks', {}),
        call('list_tasks', {}),
      )
      const { run, steps, answer } = await world.ask('Tasks and notes, please')

      expect(run.status).toBe('succeeded')
      expect(steps.map((s) => [s.kind, s.agent_id, s.error?.code ?? 'ok'])).toEqual([
        ['context', 'coordinator', 'ok'],
        ['model_call', 'coordinator', 'ok'],
        ['model_call', 'task_manager', 'ok'],
        ['tool_call', 'task_manager', 'ok'],
        ['model_call', 'task_manager', 'ok'],
        ['delegation', 'coordinator', 'ok'],
        ['delegation', 'coordinator', 'limit_reached'],
      ])
      expect(answer?.content).toBe('(Stopped: this run reached its limit of 3 model calls.)')
    },
  )

  scenario(
    'a run cancelled between model calls keeps what its tools did and its partial answer, marked',
    async (world) => {
      world.script(
        call('create_task', { title: 'Pack the bags' }, 'Adding your packing first.'),
        // While the model thinks about its second turn, the user cancels.
        async () => {
          const response = await world.api('POST', `/ai/runs/${world.current.id}/cancel`)
          expect(response.status).toBe(200)
          return hang()
        },
      )
      const { run, steps, answer } = await world.ask('Get me ready for the trip', { agent: 'task_manager' })

      expect(run.status).toBe('cancelled')
      expect(run.finished_at).not.toBeNull()
      expect(answer).toMatchObject({
        agent_id: 'task_manager',
        content: 'Adding your packing first.',
        metadata: { run_id: run.id, cancelled: true, partial: true },
      })
      expect(steps.map((s) => s.kind)).toEqual(['context', 'model_call', 'tool_call'])
      // A change made before the cancel stays (undoing it is another matter).
      const [task] = await world.tasks()
      expect(task).toMatchObject({
        title: 'Pack the bags',
        source_reference: world.reference(run, 'task_manager'),
      })
    },
  )

  scenario(
    'a run cancelled mid-stream keeps the words already streamed, marked as cancelled',
    async (world) => {
      // The events before the first word: OpenAI's role chunk; Anthropic's message_start, ping, content_block_start.
      const prelude = world.provider === 'openai' ? 1 : 3
      world.script(
        say(['Here ', 'is ', 'a ', 'long ', 'story ', 'that ', 'never ', 'ends'], {
          stallAfter: prelude + 4,
        }),
      )
      const run = await world.start('Tell me a story')
      // The provider has sent four words and then says nothing; the user, who has read them, gives up.
      await world.until(() => world.streamed(run.id) === 'Here is a long ')
      expect((await world.api('POST', `/ai/runs/${run.id}/cancel`)).status).toBe(200)
      const { run: ended, answer } = await world.settle(run)

      expect(ended.status).toBe('cancelled')
      expect(answer).toMatchObject({ content: 'Here is a long ', metadata: { cancelled: true } })
    },
  )

  scenario(
    'a provider down in the middle of a run: the next model in AI_FALLBACK_MODELS finishes it',
    async (world) => {
      world.configure({ fallbackModels: [MODELS[world.other]] })
      world.script(call('create_task', { title: 'Renew the lease' }), down(503))
      world.scriptOn(world.other, (sent) => {
        // The fallback model picks the run up where it was: the tool's result is in its history.
        expect(sent.results.map((r) => r.name)).toEqual(['create_task'])
        expect(sent.tools).toContain('create_task')
        return say('Added “Renew the lease”.')
      })
      const { run, steps, answer } = await world.ask('Remind me to renew the lease', {
        agent: 'task_manager',
      })

      expect(run).toMatchObject({ status: 'succeeded', model: MODELS[world.other], error: null })
      const models = steps.filter((s) => s.kind === 'model_call')
      expect(models.map((s) => [s.name, s.input.failed])).toEqual([
        [world.model, []],
        [MODELS[world.other], [{ model: world.model, kind: 'down', status: 503 }]],
      ])
      expect(Object.keys(run.usage).sort()).toEqual([world.model, MODELS[world.other]].sort())
      expect(answer).toMatchObject({
        content: 'Added “Renew the lease”.',
        metadata: { model: MODELS[world.other] },
      })
      expect((await world.tasks()).map((t) => t.title)).toEqual(['Renew the lease'])
    },
  )

  scenario(
    'every model down mid-run: the run fails with provider_unavailable, keeping what was done',
    async (world) => {
      world.configure({ fallbackModels: [MODELS[world.other]] })
      world.script(call('create_task', { title: 'Water the plants' }), down(500))
      world.scriptOn(world.other, down(503))
      const { run, answer, messages } = await world.ask('Remind me to water the plants', {
        agent: 'task_manager',
      })

      expect(run.status).toBe('failed')
      expect(run.error?.code).toBe('provider_unavailable')
      expect(run.error?.message).toContain(`No model answered: ${world.model} is unavailable (status 500)`)
      expect(run.error?.message).toContain(`${MODELS[world.other]} is unavailable (status 503)`)
      expect(answer).toBeUndefined()
      expect(messages.map((m) => m.role)).toEqual(['user', 'tool'])
      expect((await world.tasks()).map((t) => t.title)).toEqual(['Water the plants'])
    },
  )

  scenario(
    'a provider that rate limits mid-run fails the run with rate_limited; no fallback is tried',
    async (world) => {
      world.configure({ fallbackModels: [MODELS[world.other]] })
      world.script(call('list_tasks', {}), down(429, { 'retry-after': '12' }))
      const { run, sent } = await world.ask('What do I have?', { agent: 'task_manager' })

      expect(run.status).toBe('failed')
      expect(run.error).toMatchObject({ code: 'rate_limited' })
      expect(run.error?.message).toContain('try again in 12 s')
      expect(sent.map((s) => s.provider)).toEqual([world.provider, world.provider])
    },
  )

  scenario(
    'a 5xx that the SDK’s retry absorbs: the same model answers, and the run never hears of it',
    async (world) => {
      world.limit({ maxRetries: 1 })
      world.script(down(502), say('Here I am.'))
      const { run, steps, answer, sent } = await world.ask('Hello?')

      expect(run).toMatchObject({ status: 'succeeded', model: world.model })
      expect(sent.map((s) => s.provider)).toEqual([world.provider, world.provider])
      expect(steps.filter((s) => s.kind === 'model_call').map((s) => s.input.failed)).toEqual([[]])
      expect(answer?.content).toBe('Here I am.')
    },
    // The retry waits a second or so (LangChain's backoff): once is enough.
    { providers: ['anthropic'] },
  )

  scenario(
    'with no provider configured the message is kept and the run fails at once, naming what to set',
    async (world) => {
      world.configure({
        openai: { apiKey: undefined, baseUrl: undefined },
        anthropic: { apiKey: undefined, baseUrl: undefined },
        defaultModel: undefined,
      })
      const run = await world.start('Plan my day')
      expect(run).toMatchObject({ status: 'failed', error: { code: 'provider_unavailable' } })
      const { run: ended, messages, broadcasts, sent } = await world.settle(run)

      expect(ended.error?.message).toContain('OPENAI_API_KEY')
      expect(ended.started_at).toBeNull()
      expect(messages.map((m) => [m.role, m.content])).toEqual([['user', 'Plan my day']])
      expect(broadcasts.map((b) => b.event)).toEqual(['run_failed'])
      expect(sent).toEqual([])
    },
  )

  scenario('a stream that breaks after words went out is not continued by another model', async (world) => {
    world.configure({ fallbackModels: [MODELS[world.other]] })
    world.script(
      say(['Your ', 'week ', 'is ', 'full'], {
        failAfter: { events: 4, status: 529, message: 'Overloaded' },
      }),
    )
    const { run, answer, sent } = await world.ask('How is my week?')

    expect(run.status).toBe('failed')
    expect(run.error?.code).toBe('provider_unavailable')
    expect(answer).toBeUndefined()
    expect(sent.map((s) => s.provider)).toEqual([world.provider])
  })

  scenario(
    'a run over its wall-clock limit fails with timeout',
    async (world) => {
      world.limit({ runTimeoutMs: 1000 })
      world.always(
        say(
          Array.from({ length: 60 }, (_, i) => `slowly${i} `),
          { delayMs: 40 },
        ),
      )
      const { run } = await world.ask('Take your time')

      expect(run.status).toBe('failed')
      expect(run.error).toMatchObject({
        code: 'timeout',
        message: 'The run took longer than its limit of 1 s',
      })
    },
    { providers: ['openai'] },
  )
})
