import { performance } from 'node:perf_hooks'
import { undoRun } from '../shared/ai/trace.ts'
import { agentContext, inStep, type ServiceContext, userContext } from '../shared/core/context.ts'
import { withUser } from '../shared/db/with-user.ts'
import { verifyAccessToken } from '../shared/http/require-user.ts'
import { createTask, deleteTask, updateTask } from '../shared/tasks/service.ts'
import { type Measurement, measure } from './lib.ts'
import type { BenchContext } from './run.ts'

// What the trace of agents' changes costs, and how long an undo takes (ADR 0029), with the verbs in
// process against the stack's database (as the ai function's tools call them):
//
// - a 20-task agent change, the same verb calls with the trace's settings on (an agent's context
//   in a run: the trigger records every row) and off (the same agent actor, in a transaction opened
//   without them: the trigger's WHEN clause is false), both in one transaction (one tool call that
//   makes 20 tasks) and as 20 transactions (20 tool calls);
// - the undo of a run of 100 changes (50 tasks created, 30 updated, 20 deleted), as the user.

const TASKS_PER_CHANGE = 20
const CHANGES = 60
const WARMUP = 5
const UNDO_RUNS = 20

/** Latencies (ms) of one case, run one at a time, as a table row. */
function summary(name: string, samples: number[]): Measurement {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
  const total = samples.reduce((sum, ms) => sum + ms, 0)
  return {
    name,
    requests: samples.length,
    concurrency: 1,
    rps: samples.length / (total / 1000),
    p50: at(50),
    p99: at(99),
  }
}

export async function benchTrust({ sql, user }: BenchContext): Promise<Measurement[]> {
  const claims = await verifyAccessToken(user.token)
  const asUser = userContext(claims)
  const [{ id: conversationId }] = await sql`
    insert into public.conversations (user_id, title) values (${user.id}, 'bench: trust') returning id`
  const newRun = async (): Promise<string> => {
    const [{ id }] = await sql`
      insert into public.agent_runs (user_id, conversation_id, agent_id, status, started_at)
      values (${user.id}, ${conversationId}, 'task_manager', 'running', now()) returning id`
    return id
  }
  const agentIn = (runId: string): ServiceContext =>
    inStep(agentContext(claims, { agentId: 'task_manager', runId, messageId: null }), crypto.randomUUID())

  const tracedRun = await newRun()
  // The same agent actor (its provenance) either way; only the transaction's settings differ.
  const traced = agentIn(tracedRun)
  const untraced = traced
  /** One tool call making 20 tasks in one transaction, opened with (or without) the run's settings. */
  const oneTransaction = (traceOn: boolean) => (i: number) =>
    withUser(traceOn ? traced : asUser, async (tx) => {
      for (let n = 0; n < TASKS_PER_CHANGE; n++) {
        await createTask({ ctx: { ...untraced, tx }, input: { title: `Bench ${i}.${n}` } })
      }
    })
  /** 20 tool calls of one task each, each its own transaction. */
  const manyTransactions = (traceOn: boolean) => async (i: number) => {
    for (let n = 0; n < TASKS_PER_CHANGE; n++) {
      await withUser(traceOn ? traced : asUser, (tx) =>
        createTask({ ctx: { ...untraced, tx }, input: { title: `Bench ${i}.${n}` } }),
      )
    }
  }

  // The four cases take turns, so that a slower stretch of a loaded machine falls on all of them.
  const cases = [
    ['20 tasks, 1 transaction, no trace', oneTransaction(false)],
    ['20 tasks, 1 transaction, traced', oneTransaction(true)],
    ['20 tasks, 20 transactions, no trace', manyTransactions(false)],
    ['20 tasks, 20 transactions, traced', manyTransactions(true)],
  ] as const
  const latencies = cases.map(() => [] as number[])
  for (let round = 0; round < WARMUP + CHANGES; round++) {
    for (const [index, [, task]] of cases.entries()) {
      const t0 = performance.now()
      await task(round)
      if (round >= WARMUP) latencies[index].push(performance.now() - t0)
    }
  }
  const results: Measurement[] = cases.map(([name], index) => summary(name, latencies[index]))
  const [{ traced: actions }] = await sql`
    select count(*)::int as traced from public.agent_run_actions where run_id = ${tracedRun}`
  const expected = (CHANGES + WARMUP) * TASKS_PER_CHANGE * 2
  if (actions !== expected) throw new Error(`the trace holds ${actions} actions, not ${expected}`)

  // Runs of 100 changes each, made untimed, then undone one by one.
  const runs: string[] = []
  for (let r = 0; r < UNDO_RUNS + 2; r++) {
    const runId = await newRun()
    const agent = agentIn(runId)
    const existing = await withUser(asUser, async (tx) => {
      const made = []
      for (let n = 0; n < 50; n++)
        made.push(await createTask({ ctx: { ...asUser, tx }, input: { title: `Own ${n}` } }))
      return made
    })
    await withUser(agent, async (tx) => {
      const ctx = { ...agent, tx }
      for (let n = 0; n < 50; n++) await createTask({ ctx, input: { title: `Agent ${r}.${n}` } })
      for (let n = 0; n < 30; n++) {
        await updateTask({
          ctx,
          input: { id: existing[n].id, changes: { priority: 'high', title: `Moved ${n}` } },
        })
      }
      for (let n = 30; n < 50; n++) await deleteTask({ ctx, input: { id: existing[n].id } })
    })
    await sql`update public.agent_runs set status = 'succeeded', finished_at = now() where id = ${runId}`
    runs.push(runId)
  }
  let undone = 0
  results.push(
    await measure(
      'undo of a run of 100 changes',
      async () => {
        const result = await undoRun({ ctx: asUser, input: { id: runs[undone++] } })
        if (result.reverted.length !== 100 || result.skipped.length > 0) {
          throw new Error(`undo took back ${result.reverted.length} of 100 changes`)
        }
      },
      { requests: UNDO_RUNS, concurrency: 1, warmup: 2 },
    ),
  )
  return results
}
