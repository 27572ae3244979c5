import { Cron } from 'croner'

// Cron expressions of schedules: five fields (minute, hour, day of month, month, day of week, as
// crontab(5) reads them: a day matches if either day field does), read in an IANA time zone.
// croner does the reading and the calendar, daylight saving time included: a time that a spring
// transition skips runs at the first minute after the gap, a time an autumn transition repeats runs
// once (docs/adr/0031-scheduled-check-ins.md).

/** The expression with its fields separated by one space, or undefined if it is not five fields. */
export function normalizeCron(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/)
  return fields.length === 5 && fields.every(Boolean) ? fields.join(' ') : undefined
}

/** Whether the runtime knows this IANA time zone. */
export function isTimeZone(zone: string): boolean {
  if (!zone || zone.length > 64) return false
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

function parse(expression: string, zone: string): Cron {
  return new Cron(expression, { timezone: zone, mode: '5-part', paused: true })
}

/** Why the expression is not a five-field cron expression that ever comes round, or undefined. */
export function cronProblem(expression: string): string | undefined {
  const normalized = normalizeCron(expression)
  if (!normalized) {
    return 'A cron expression has five fields: minute, hour, day of month, month, day of week (e.g. 0 7 * * *)'
  }
  let job: Cron
  try {
    job = parse(normalized, 'UTC')
  } catch (error) {
    return (error as Error).message.replace(/^CronPattern: /, '')
  }
  // Over eight years every date that exists comes round (29 February included).
  const within = new Date(Date.now() + 8 * 366 * 24 * 3600 * 1000)
  const next = job.nextRun()
  return next && next <= within ? undefined : 'The cron expression never comes round (e.g. 30 February)'
}

/**
 * The first time after `after` that the expression names, in `zone`; undefined if it never comes
 * round. The expression must be one cronProblem accepts and the zone one isTimeZone knows.
 */
export function nextOccurrence(expression: string, zone: string, after: Date): Date | undefined {
  return parse(expression, zone).nextRun(after) ?? undefined
}
