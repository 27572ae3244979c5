import { expect } from 'vitest'
import { scenarios } from './harness.ts'
import { call, calls, delegate, say } from './script.ts'

// The coaches and the knowledge keeper write: goal progress and a sub-goal, a reflection in the
// user's words (which the next run's context then carries), and a note with a checklist.

interface Page<T> {
  data: T[]
}
interface GoalRow {
  id: string
  title: string
  progress: number
  timeframe: string
}

scenarios('coaching', (scenario) => {
  scenario(
    'the goal coach updates a goal’s progress and breaks off the next step as a sub-goal',
    async (world) => {
      const book = await world.goal({
        title: 'Write the book',
        timeframe: 'yearly',
        status: 'in_progress',
        progress: 50,
      })
      const garden = await world.goal({ title: 'Plant the garden', timeframe: 'monthly', progress: 10 })
      world.script(
        delegate(
          'goal_coach',
          'The user finished chapter 6 of 8 of their book; update the goal and plan the next step',
        ),
        call('list_goals', { status: ['in_progress'] }),
        (sent) => {
          const goal = sent.result<Page<GoalRow>>('list_goals').data.find((g) => g.title === 'Write the book')
          expect(goal?.progress).toBe(50)
          return calls(
            ['update_goal_progress', { id: goal?.id, progress: 75 }],
            [
              'create_goal',
              {
                title: 'Draft chapter 7',
                timeframe: 'weekly',
                parent_goal_id: goal?.id,
                status: 'in_progress',
              },
            ],
          )
        },
        say('Progress set to 75%, and “Draft chapter 7” is this week’s goal.'),
        (sent) => say(`Well done! ${sent.result<{ answer: string }>('delegate').answer}`),
      )
      const { run, tools, answer } = await world.ask('I finished chapter 6 of 8 of my book today')

      expect(run.status).toBe('succeeded')
      expect(tools.map((s) => [s.agent_id, s.name, s.error])).toEqual([
        ['goal_coach', 'list_goals', null],
        ['goal_coach', 'update_goal_progress', null],
        ['goal_coach', 'create_goal', null],
      ])
      expect(await world.row('goals', book.id)).toMatchObject({
        progress: 75,
        status: 'in_progress',
        source: 'manual',
        edited_by_user: false,
      })
      expect(await world.row('goals', garden.id)).toMatchObject({ progress: 10 })
      const [sub] = await world.sql`
      select title, timeframe, status, parent_goal_id, source, source_reference from public.goals
      where user_id = ${world.ada.id} and parent_goal_id = ${book.id}`
      expect(sub).toEqual({
        title: 'Draft chapter 7',
        timeframe: 'weekly',
        status: 'in_progress',
        parent_goal_id: book.id,
        source: 'agent',
        source_reference: world.reference(run, 'goal_coach'),
      })
      expect(answer?.content).toBe(
        'Well done! Progress set to 75%, and “Draft chapter 7” is this week’s goal.',
      )
    },
  )

  scenario('the goal coach refuses a progress over 100 to itself and corrects it', async (world) => {
    const goal = await world.goal({ title: 'Read 12 books', timeframe: 'yearly', progress: 90 })
    world.script(
      call('update_goal_progress', { id: goal.id, progress: 110 }),
      (sent) => {
        expect(sent.results.at(-1)?.error?.code).toBe('validation_failed')
        return call('update_goal_progress', { id: goal.id, progress: 100 })
      },
      call('update_goal', { id: goal.id, changes: { status: 'completed' } }),
      say('All twelve read: the goal is complete.'),
    )
    const { run, tools } = await world.ask('I just finished my 12th book!', { agent: 'goal_coach' })

    expect(run.status).toBe('succeeded')
    expect(tools.map((s) => s.error?.code ?? 'ok')).toEqual(['validation_failed', 'ok', 'ok'])
    expect(await world.row('goals', goal.id)).toMatchObject({ progress: 100, status: 'completed' })
  })

  scenario(
    'the reflection coach records a reflection in the user’s words; the next run’s context has it',
    async (world) => {
      world.script(
        call('list_reflections', { reflection_type: ['daily'], limit: 3 }),
        (sent) => {
          expect(sent.result<Page<unknown>>('list_reflections').data).toEqual([])
          return call('create_reflection', {
            reflection_type: 'daily',
            title: 'Release day',
            content: sent.lastUser.replace(/^Daily reflection: /, ''),
            mood: 4,
          })
        },
        say('Recorded. What made the release go smoothly?'),
      )
      const { run, tools } = await world.ask('Daily reflection: shipped the release, tired but proud', {
        agent: 'reflection_coach',
      })

      expect(run.status).toBe('succeeded')
      expect(tools.map((s) => s.name)).toEqual(['list_reflections', 'create_reflection'])
      const reflections = await world.sql`
      select reflection_type, title, content, mood, source, source_reference from public.reflections
      where user_id = ${world.ada.id}`
      expect(reflections).toEqual([
        {
          reflection_type: 'daily',
          title: 'Release day',
          content: 'shipped the release, tired but proud',
          mood: 4,
          source: 'agent',
          source_reference: world.reference(run, 'reflection_coach'),
        },
      ])

      // The context provider puts the latest reflection in every agent's prompt.
      world.script((sent) => {
        expect(sent.system).toMatch(
          /Latest reflection: daily, \d{4}-\d\d-\d\d: shipped the release, tired but proud/,
        )
        return say('Yesterday you were proud of the release.')
      })
      const next = await world.ask('What did I say about today?')
      expect(next.run.status).toBe('succeeded')
    },
  )

  scenario(
    'the knowledge agent writes a note with a checklist; its items become the user’s tasks',
    async (world) => {
      const existing = await world.note('Packing list', ['Passport'])
      world.script(
        call('create_note', {
          title: 'Party',
          text: 'Saturday at 8\n- [ ] Buy balloons\n- [ ] Invite the neighbours',
        }),
        call('append_to_note', { id: existing.id, text: 'Sunscreen' }),
        say('I wrote “Party” with two to-dos and added sunscreen to your packing list.'),
      )
      const { run, tools } = await world.ask(
        'Write down the party plan, and add sunscreen to my packing list',
        {
          agent: 'knowledge',
        },
      )

      expect(run.status).toBe('succeeded')
      expect(tools.map((s) => s.error)).toEqual([null, null])
      const [party] = await world.sql`
      select id, title, source, source_reference from public.notes where user_id = ${world.ada.id} and title = 'Party'`
      expect(party).toMatchObject({ source: 'agent', source_reference: world.reference(run, 'knowledge') })
      // The note's checklist became tasks, as any note's does (in one transaction: one created_at).
      const checklist = await world.tasks(world.sql`and note_id = ${party.id}`)
      expect(checklist.map((t) => [t.title, t.source, t.status]).sort()).toEqual([
        ['Buy balloons', 'note', 'todo'],
        ['Invite the neighbours', 'note', 'todo'],
      ])
      // The note the user wrote gained a line and is still theirs.
      const packing = await world.row('notes', existing.id)
      expect(packing.source).toBe('manual')
      expect(packing.content.map((b: { content: Array<{ text: string }> }) => b.content[0].text)).toEqual([
        'Passport',
        'Sunscreen',
      ])
    },
  )
})
