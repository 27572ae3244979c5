// Work that goes on after a response: on the edge runtime through EdgeRuntime.waitUntil (so the
// instance stays until it is done), elsewhere as a promise this module keeps (tests await them).
// Whatever happens to the process, the work is also a row in public.knowledge_jobs, which the next
// drain picks up: nothing depends on the promise alone.

const pending = new Set<Promise<void>>()

interface EdgeRuntimeLike {
  waitUntil(promise: Promise<unknown>): void
}

export function inBackground(name: string, task: () => Promise<unknown>): void {
  const promise: Promise<void> = Promise.resolve()
    .then(task)
    .then(
      () => undefined,
      (error: unknown) => console.error(`background ${name} failed:`, error),
    )
    .finally(() => pending.delete(promise))
  pending.add(promise)
  ;(globalThis as { EdgeRuntime?: EdgeRuntimeLike }).EdgeRuntime?.waitUntil(promise)
}

/** Resolves once every background task started so far (and those they started) has finished. */
export async function backgroundSettled(): Promise<void> {
  while (pending.size > 0) await Promise.allSettled([...pending])
}

/**
 * Lets the event loop run (I/O, timers, other requests) before going on: long CPU work (chunking,
 * a local model's embeddings) calls it between steps. Without it, a transaction that another task of
 * this instance has open waits until the work is done, and in the local stack one open transaction
 * holds the whole embedded database.
 */
export const yieldToOthers = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0))
