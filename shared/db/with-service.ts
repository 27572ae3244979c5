import type { Tx } from '../core/context.ts'
import { getSql } from './client.ts'

// The few statements that are no user's: the due check of schedules looks at every user's due
// schedules at once (docs/adr/0031-scheduled-check-ins.md). They run in a transaction as
// service_role (BYPASSRLS, as on hosted), never as postgres itself, and only behind a route that
// checked the service key. Anything done for a user afterwards goes through withUser as that user.

/** Runs `fn` in one transaction as service_role. */
export async function withService<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
  return (await getSql().begin(async (tx) => {
    await tx`set local role service_role`
    return fn(tx as unknown as Tx)
  })) as T
}
