import { expect } from 'vitest'
import { HISTORY_BUDGET_CHARS } from '../../../shared/ai/context.ts'
import { scenarios } from './harness.ts'
import { addDays, say } from './script.ts'

// What the context provider tells the model: today's date in the user's time zone (and the user's
// name, what is overdue), the conversation up to its budget with what was left out said, and the
// user's own settings of a built-in agent.

const dateIn = (zone: string, at = new Date()) =>
  new Intl.DateTimeFormat('en-CA', {
    timeZone: zone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(at)
const weekdayIn = (zone: string, at = new Date()) =>
  new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'long' }).format(at)

scenarios('context', (scenario) => {
  scenario(
    'today’s date in the user’s time zone, with what is due and overdue by that date',
    async (world) => {
      // UTC+14 and UTC-11: a day apart (or two) for most of every day, and neither is UTC's date for long.
      for (const zone of ['Pacific/Kiritimati', 'Pacific/Pago_Pago']) {
        await world.sql`update public.profiles set preferences = ${world.sql.json({ timezone: zone })} where id = ${world.ada.id}`
        const today = dateIn(zone)
        await world.sql`delete from public.tasks where user_id = ${world.ada.id}`
        await world.task({ title: 'Due today there', due_date: today })
        await world.task({ title: 'Due yesterday there', due_date: addDays(today, -1) })
        await world.task({ title: 'Due next month', due_date: addDays(today, 30) })
        world.script((sent) => {
          expect(sent.today).toBe(today)
          expect(sent.system).toContain(
            `Today is ${weekdayIn(zone)}, ${today} (${zone}). You are talking with Ada Lovelace.`,
          )
          expect(sent.system).toMatch(
            new RegExp(`Due today there \\(id [0-9a-f-]+; todo, medium, due ${today}\\)`),
          )
          expect(sent.system).toMatch(
            /Due yesterday there \(id [0-9a-f-]+; todo, medium, due [\d-]+, overdue\)/,
          )
          expect(sent.system).not.toContain('Due next month')
          return say(`It is ${sent.today} for you.`)
        })
        const { run, steps, answer } = await world.ask('What day is it?')
        expect(run.status).toBe('succeeded')
        expect(steps[0]).toMatchObject({ kind: 'context', input: { date: today, time_zone: zone } })
        expect(steps[0].input.tasks).toHaveLength(2)
        expect(answer?.content).toBe(`It is ${today} for you.`)
      }

      // A time zone the runtime does not know counts as UTC.
      await world.sql`update public.profiles set preferences = ${world.sql.json({ timezone: 'Mars/Olympus_Mons' })} where id = ${world.ada.id}`
      world.script((sent) => {
        expect(sent.system).toContain(`Today is ${weekdayIn('UTC')}, ${dateIn('UTC')} (UTC).`)
        return say('UTC it is.')
      })
      const fallback = await world.ask('And now?')
      expect(fallback.steps[0].input).toMatchObject({ time_zone: 'UTC' })
    },
  )

  scenario(
    'a conversation over the history budget: the older turns are summarised into it, the newest go in',
    async (world) => {
      // 30 earlier turns of 1,000 characters each: more than the budget of 24,000 characters.
      const turn = (index: number) => `turn ${String(index).padStart(2, '0')} ${'x'.repeat(992)}`
      await world.history(
        Array.from({ length: 30 }, (_, index) => ({
          role: index % 2 === 0 ? ('user' as const) : ('assistant' as const),
          content: turn(index),
        })),
      )
      const question = 'What did we say at the start?'
      // Overflowing, the newest turns go in within half the budget (room for the next runs), the
      // question always; the rest is summarised first.
      const kept = Math.floor((HISTORY_BUDGET_CHARS / 2 - question.length) / 1000)
      const summarised = 30 - kept
      const summary = 'At the start we went over turns 00 to 18, all about x.'
      world.script(
        (sent) => {
          expect(sent.system).toMatch(/summarise the earlier part of a conversation/)
          expect(sent.lastUser).toContain('<turn role="user">\nturn 00 ')
          expect(sent.lastUser).toContain(`turn ${String(summarised - 1).padStart(2, '0')} `)
          expect(sent.lastUser).not.toContain(`turn ${String(summarised).padStart(2, '0')} `)
          return say(summary)
        },
        (sent) => {
          expect(sent.system).toContain(`<conversation_summary>\n${summary}\n</conversation_summary>`)
          expect(sent.system).not.toMatch(/are not shown/)
          const texts = sent.messages.map((m) => m.text)
          expect(texts).toHaveLength(kept + 1)
          expect(texts.at(-1)).toBe(question)
          expect(texts[0]).toBe(turn(summarised))
          expect(texts.some((text) => text.startsWith('turn 00 '))).toBe(false)
          // Roles alternate as they were said.
          expect(sent.messages.slice(0, 2).map((m) => m.role)).toEqual(
            summarised % 2 === 0 ? ['user', 'assistant'] : ['assistant', 'user'],
          )
          return say('We started with turns about x.')
        },
      )
      const { run, steps } = await world.ask(question)

      expect(run.status).toBe('succeeded')
      expect(steps[0].input).toMatchObject({ history_messages: kept + 1, history_left_out: summarised })
      expect(steps[1]).toMatchObject({ kind: 'model_call', input: { purpose: 'summary', turns: summarised } })
    },
  )

  scenario(
    'a built-in agent as the user set it up: their model, temperature and instructions',
    async (world) => {
      const model = `${world.provider}:${world.provider === 'openai' ? 'gpt-tuned' : 'claude-tuned'}`
      const configured = await world.api('PUT', '/ai/agents/task_manager', {
        model,
        temperature: 0.9,
        instructions: 'Give every task a due date.',
      })
      expect(configured.status).toBe(200)
      world.script((sent) => {
        expect(sent.model).toBe(model.slice(model.indexOf(':') + 1))
        expect(sent.temperature).toBe(0.9)
        expect(sent.system).toContain('You are Task manager, Task manager.')
        expect(sent.system).toContain('instructions for you:\nGive every task a due date.')
        return say('Understood.')
      })
      const { run } = await world.ask('Hello', { agent: 'task_manager' })
      expect(run).toMatchObject({ status: 'succeeded', model, agent_id: 'task_manager' })
    },
  )
})
