import { expect, it } from 'vitest'
import { type BroadcastMessage, RunBroadcaster } from '../../shared/ai/broadcast.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

it('gathers text deltas into at most one token broadcast per interval, in order, with every other event', async () => {
  const sent: Array<{ at: number; messages: BroadcastMessage[] }> = []
  const broadcaster = new RunBroadcaster('c1', 'r1', async (topic, messages) => {
    expect(topic).toBe('conversation:c1')
    sent.push({ at: Date.now(), messages })
    await sleep(5)
  })
  broadcaster.send('run_started', { agent_id: 'coordinator' })
  const deltas = Array.from({ length: 100 }, (_, i) => `t${i} `)
  const started = Date.now()
  for (const delta of deltas) {
    broadcaster.token(delta)
    await sleep(3)
  }
  broadcaster.send('run_finished', { message_id: 'm1' })
  await broadcaster.settled()
  const elapsed = Date.now() - started

  const events = sent.flatMap((request) => request.messages)
  expect(events.map((event) => event.payload.seq)).toEqual(events.map((_, i) => i))
  expect(events[0].event).toBe('run_started')
  expect(events.at(-1)?.event).toBe('run_finished')
  const tokens = events.filter((event) => event.event === 'token')
  expect(tokens.map((event) => event.payload.text).join('')).toBe(deltas.join(''))
  // 50 ms apart at the least: about 20 a second.
  expect(tokens.length).toBeLessThanOrEqual(Math.ceil(elapsed / 50) + 2)
})

it('does not stop a run when Realtime refuses a broadcast', async () => {
  let calls = 0
  const broadcaster = new RunBroadcaster('c1', 'r1', async () => {
    calls++
    throw new Error('Realtime answered 500')
  })
  const errors = console.error
  console.error = () => {}
  try {
    broadcaster.send('run_started', {})
    broadcaster.token('Hello')
    broadcaster.send('run_failed', { error: { code: 'internal' } })
    await broadcaster.settled()
  } finally {
    console.error = errors
  }
  expect(calls).toBeGreaterThanOrEqual(1)
})

it('numbers a resumed run’s events after the ones before its pause (nextSeq, firstSeq)', async () => {
  const before: BroadcastMessage[] = []
  const paused = new RunBroadcaster('c1', 'r1', async (_, messages) => {
    before.push(...messages)
  })
  paused.send('run_started', {})
  paused.token('Deleting ')
  // The gathered text goes out before the next event, so that event is numbered after it.
  const seq = paused.nextSeq()
  expect(seq).toBe(2)
  paused.send('approval_required', { actions: [] })
  await paused.settled()
  expect(before.map((event) => [event.event, event.payload.seq])).toEqual([
    ['run_started', 0],
    ['token', 1],
    ['approval_required', 2],
  ])

  const after: BroadcastMessage[] = []
  const resumed = new RunBroadcaster(
    'c1',
    'r1',
    async (_, messages) => {
      after.push(...messages)
    },
    50,
    seq + 1,
  )
  resumed.send('run_resumed', { decisions: [] })
  resumed.send('run_finished', {})
  await resumed.settled()
  expect(after.map((event) => event.payload.seq)).toEqual([3, 4])
})
