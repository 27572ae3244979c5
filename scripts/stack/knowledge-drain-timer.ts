// The local stack's periodic knowledge drain: what pg_cron and pg_net do on hosted Supabase
// (migration …_knowledge_drain.sql, docs/adr/0032). Every `intervalMs` it calls the ai function's
// POST ai/knowledge/drain-due through the gateway with the service-role key, which drains the queue
// of every user with due work (retries, notes saved when no drain ran, a change of embedding model).
// One call at a time: a tick while the previous call is out is skipped.

export interface KnowledgeDrainTimerOptions {
  /** The gateway's URL (`http://127.0.0.1:54321`). */
  apiUrl: string
  serviceRoleKey: string
  intervalMs: number
  log: (line: string) => void
  /** Only these users' queues (a test's own, in a database other tests share); default every user's. */
  userIds?: string[]
}

/** Starts the timer (none if `intervalMs` is 0); the function it returns stops it. */
export function startKnowledgeDrainTimer(options: KnowledgeDrainTimerOptions): () => Promise<void> {
  if (!(options.intervalMs > 0)) return async () => {}
  let inFlight: Promise<void> | undefined
  let stopped = false
  const tick = () => {
    if (inFlight || stopped) return
    inFlight = drainDue(options).finally(() => {
      inFlight = undefined
    })
  }
  const timer = setInterval(tick, options.intervalMs)
  timer.unref?.()
  return async () => {
    stopped = true
    clearInterval(timer)
    await inFlight
  }
}

async function drainDue(options: KnowledgeDrainTimerOptions): Promise<void> {
  try {
    const response = await fetch(`${options.apiUrl}/functions/v1/ai/knowledge/drain-due`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${options.serviceRoleKey}`,
        apikey: options.serviceRoleKey,
        'content-type': 'application/json',
      },
      body: JSON.stringify(options.userIds ? { user_ids: options.userIds } : {}),
      signal: AbortSignal.timeout(30_000),
    })
    const body = (await response.json().catch(() => undefined)) as { users?: number } | undefined
    if (response.status !== 202) options.log(`knowledge drain: the ai function answered ${response.status}`)
    else if (body?.users) options.log(`knowledge drain: indexing for ${body.users} user(s)`)
  } catch (error) {
    options.log(`knowledge drain: ${(error as Error).message}`)
  }
}
