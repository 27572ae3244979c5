import type { Tx } from '../core/context.ts'
import { ConflictError, DomainError, NotFoundError, PreconditionFailedError } from '../core/errors.ts'
import { columnsOf } from '../core/schemas.ts'
import { defineVerb } from '../core/verb.ts'
import { matchesVersion } from '../db/versions.ts'
import { withUser } from '../db/with-user.ts'
import {
  type Run,
  type RunAction,
  RunActionSchema,
  RunSchema,
  RunUndoInputSchema,
  type RunUndoResult,
  type RunUndoSkip,
} from './schemas.ts'

// The trace of a run and its undo (ADR 0029). The trace is written by a trigger in the transaction
// of each change an agent makes (supabase/migrations/20261202001000_agent_run_actions.sql); here it
// is read back, and taken back newest first by private.undo_agent_run, as the user under their RLS.

const RUN_COLUMNS = columnsOf(RunSchema)
const ACTION_COLUMNS = columnsOf(RunActionSchema)

/** The runs an undo may take back: those that have ended. */
const FINISHED: readonly Run['status'][] = ['succeeded', 'failed', 'cancelled']

/** A run's actions in the order they were made. */
export function runActions(tx: Tx, userId: string, runId: string) {
  return tx<RunAction[]>`
    select ${tx(ACTION_COLUMNS)} from public.agent_run_actions
    where user_id = ${userId} and run_id = ${runId} order by seq`
}

/** One blocking row as an error detail: the table and row, and why. */
const blockingDetail = (skip: RunUndoSkip) => ({
  path: `${skip.table_name}/${skip.row_id}`,
  message: `${skip.reason} (${skip.operation} of action ${skip.action_id})`,
})

/**
 * Takes back every change the run made, newest first, in one transaction: rows it created are
 * deleted, rows it updated get their columns back, rows it deleted come back with their ids (a
 * note with its checklist tasks). A row changed since the run changed it blocks the undo (409,
 * the rows in details, nothing changed) unless `force`, which leaves those rows and reports them.
 * An undone run records when; undoing it again is a 200 with nothing to undo. Only a run that has
 * ended can be undone (409 while it works); `expected` (If-Match) is the run's version.
 */
export const undoRun = defineVerb('runs.undo', RunUndoInputSchema, async ({ ctx, input }) =>
  withUser(
    ctx,
    async (tx): Promise<RunUndoResult> => {
      const [found] = await tx<(Run & { current: boolean })[]>`
        select ${tx(RUN_COLUMNS)}, ${matchesVersion(tx, input.expected)} as current
        from public.agent_runs where id = ${input.id} for update`
      if (!found) throw new NotFoundError('No such run')
      const { current, ...run } = found
      if (!current) throw new PreconditionFailedError('The run has changed since it was read (If-Match)')
      if (run.undone_at) return { run, reverted: [], skipped: [], already_undone: true }
      if (!FINISHED.includes(run.status)) {
        throw new ConflictError(
          `The run is still ${run.status}; cancel it or wait for it to end before undoing it`,
        )
      }
      const [{ outcome }] = await tx<{ outcome: { reverted: string[]; skipped: RunUndoSkip[] } }[]>`
        select private.undo_agent_run(${run.id}) as outcome`
      if (outcome.skipped.length > 0 && !input.force) {
        // Thrown inside the transaction: everything the undo did is rolled back.
        throw new DomainError(
          'conflict',
          `${outcome.skipped.length} of the run’s changes cannot be taken back: their rows changed after the run changed them. Undo with {"force": true} to leave those and take back the rest.`,
          outcome.skipped.map(blockingDetail),
        )
      }
      const [undone] = await tx<Run[]>`
        update public.agent_runs set undone_at = now() where id = ${run.id} returning ${tx(RUN_COLUMNS)}`
      const order = new Map(outcome.reverted.map((id, index) => [id, index]))
      const reverted = (await runActions(tx, ctx.userId, run.id))
        .filter((action) => order.has(action.id))
        .sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0))
      return { run: undone, reverted, skipped: outcome.skipped, already_undone: false }
    },
    ctx.tx,
  ),
)
