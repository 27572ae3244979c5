import type { Tx } from '../core/context.ts'
import { PreconditionFailedError } from '../core/errors.ts'

// A row's `updated_at` is its version (docs/adr/0008-concurrency-and-idempotency.md): a conditional
// write names the versions it accepts and changes nothing if the row has moved on.

export type VersionedTable = 'notes' | 'tasks' | 'goals' | 'reflections'

/** The SQL condition of a conditional write on `updated_at`; true when there is no precondition. */
export function matchesVersion(tx: Tx, expected: string[] | undefined) {
  return expected === undefined ? tx`true` : tx`updated_at = any(${expected}::timestamptz[])`
}

/** A conditional write that changed nothing: not found if the row is not the user's, else stale. */
export async function refuseMissingOrStale(
  tx: Tx,
  table: VersionedTable,
  id: string,
  notFound: () => Error,
): Promise<never> {
  const [row] = await tx`select 1 from ${tx(`public.${table}`)} where id = ${id}`
  if (!row) throw notFound()
  throw new PreconditionFailedError('The resource has changed since it was read (If-Match)')
}
