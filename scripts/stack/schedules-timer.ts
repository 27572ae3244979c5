// The local stack's stand-in for the pg_cron job of hosted Supabase (supabase/migrations/
// 20261202003100_schedules_cron.sql, docs/adr/0031-scheduled-check-ins.md): every interval it posts
// to the ai function's due check through the gateway, with the service_role key, as pg_net does.
// One check at a time: a tick that finds the last one still going is skipped.

/** The default interval of `npm run dev`, pg_cron's every minute. */
export const DEFAULT_SCHEDULES_CHECK_INTERVAL_MS = 60_000

export interface SchedulesTimerOptions {
  /** The due check: `<gateway>/functions/v1/ai/schedules/due`. */
  url: string
  serviceRoleKey: string
  intervalMs: number
  log: (line: string) => void
  /** What to post; by default `{}`, every user's due schedules. */
  body?: Record<string, unknown>
}

export interface SchedulesTimer {
  /** Runs a check now (or waits for the one in flight). */
  checkNow(): Promise<void>
  /** Stops the timer, after the check in flight. */
  stop(): Promise<void>
}

interface DueCheckResult {
  runs?: Array<{ schedule_id: string; run_id: string | null; error: { code: string } | null }>
}

/**
 * SCHEDULES_CHECK_INTERVAL_MS as milliseconds: 0 turns the timer off; anything else must be a whole
 * number of at least 1000. Undefined when not set (or not valid, which `warn` is told).
 */
export function schedulesCheckInterval(
  value: string | undefined,
  warn: (line: string) => void,
): number | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const ms = Number(value)
  if (Number.isInteger(ms) && (ms === 0 || ms >= 1000)) return ms
  warn(`SCHEDULES_CHECK_INTERVAL_MS must be 0 (off) or at least 1000, not "${value}"; using the default`)
  return undefined
}

export function startSchedulesTimer(options: SchedulesTimerOptions): SchedulesTimer {
  let inFlight: Promise<void> | undefined
  let failing = false

  const check = async () => {
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.serviceRoleKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(options.body ?? {}),
        signal: AbortSignal.timeout(30_000),
      })
      const text = await response.text()
      if (!response.ok) throw new Error(`answered ${response.status}: ${text.slice(0, 200)}`)
      if (failing) options.log('the due check works again')
      failing = false
      const runs = (JSON.parse(text) as DueCheckResult).runs ?? []
      for (const run of runs) {
        options.log(
          run.run_id
            ? `schedule ${run.schedule_id}: started run ${run.run_id}`
            : `schedule ${run.schedule_id}: no run (${run.error?.code ?? 'unknown'})`,
        )
      }
    } catch (error) {
      // Said once per streak of failures (the ai function restarting, say), not every tick.
      if (!failing) options.log(`the due check failed: ${(error as Error).message}`)
      failing = true
    }
  }

  const checkNow = (): Promise<void> => {
    inFlight ??= check().finally(() => {
      inFlight = undefined
    })
    return inFlight
  }

  const timer = setInterval(() => {
    if (!inFlight) void checkNow()
  }, options.intervalMs)
  timer.unref?.()

  return {
    checkNow,
    async stop() {
      clearInterval(timer)
      await inFlight
    },
  }
}
