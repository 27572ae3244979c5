import { env } from '../config.ts'
import { type JwtClaims, userContext } from '../core/context.ts'
import { DomainError, toDomainError } from '../core/errors.ts'
import { jsonParam } from '../db/columns.ts'
import { withService } from '../db/with-service.ts'
import { realtimeRest } from './broadcast.ts'
import { cronProblem, nextOccurrence } from './cron.ts'
import { loadRunLimits } from './limits.ts'
import type { DueCheck, DueCheckResult } from './schedule-schemas.ts'
import { effectiveTimeZone, launchRun, recordScheduleError, startScheduledRun } from './schedules.ts'

// The due check (docs/adr/0031-scheduled-check-ins.md), called by pg_cron through pg_net on hosted
// Supabase and by the local stack's timer, only with the service key. It claims due schedules
// exactly once, however many instances check at the same moment: one UPDATE moves each claimed
// schedule's next_run_at on, over rows it locks `for update skip locked` and only while next_run_at
// is still the time it read, so a second check skips what the first is claiming and finds nothing
// due once the first has committed. Each claimed schedule then runs as its owner, under their RLS,
// with the claims of a schedule grant issued in the same transaction as the claim.

/** How long a grant lives beyond the run's own limit: time to store the failure of a run cut off. */
const GRANT_MARGIN_SECONDS = 120

interface Candidate {
  id: string
  user_id: string
  cron: string
  time_zone: string | null
  next_run_at: string
  next_run_time_zone: string | null
  last_run_at: string | null
  created_at: string
  preferences: Record<string, unknown> | null
}

/** What the claim does to one due schedule. */
interface Plan {
  id: string
  expected: string
  next_run_at: string | null
  zone: string | null
  enabled: boolean
  runs: boolean
  error: { code: string; message: string } | null
}

/**
 * A due schedule's plan: run, and be due next at the cron's first time after now. If its time zone
 * changed since its due time was worked out (the user's preference moved), the due time is worked
 * out anew in the new zone from its last run: still ahead, it only moves there. A cron that cannot
 * be read (written past the API) turns the schedule off, saying why.
 */
function planFor(row: Candidate, now: Date): Plan {
  const base = { id: row.id, expected: row.next_run_at }
  const problem = cronProblem(row.cron)
  if (problem) {
    return {
      ...base,
      next_run_at: null,
      zone: null,
      enabled: false,
      runs: false,
      error: { code: 'validation_failed', message: `The schedule was turned off: ${problem}` },
    }
  }
  const zone = effectiveTimeZone(row.time_zone, row.preferences)
  if (zone !== row.next_run_time_zone) {
    const due = nextOccurrence(row.cron, zone, new Date(row.last_run_at ?? row.created_at))
    if (due && due > now) {
      return { ...base, next_run_at: due.toISOString(), zone, enabled: true, runs: false, error: null }
    }
  }
  const next = nextOccurrence(row.cron, zone, now)
  return {
    ...base,
    next_run_at: next?.toISOString() ?? null,
    zone: next ? zone : null,
    enabled: next !== undefined,
    runs: true,
    error: null,
  }
}

interface Claimed {
  scheduleId: string
  userId: string
  runs: boolean
  grantId: string | null
  expiresAt: string | null
}

/** Claims due schedules (at most `limit`), in one transaction as service_role. */
async function claimDue(input: DueCheck): Promise<{ checkedAt: string; claimed: Claimed[] }> {
  const ttl = Math.ceil(loadRunLimits().runTimeoutMs / 1000) + GRANT_MARGIN_SECONDS
  return withService(async (tx) => {
    const [{ now }] = await tx<{ now: string }[]>`select now() as now`
    const due = await tx<Candidate[]>`
      select s.id, s.user_id, s.cron, s.time_zone, s.next_run_at, s.next_run_time_zone, s.last_run_at,
             s.created_at, p.preferences
      from public.schedules s
      left join public.profiles p on p.id = s.user_id
      where s.enabled and s.next_run_at <= ${now}
        ${input.user_ids ? tx`and s.user_id = any(${input.user_ids}::uuid[])` : tx``}
      order by s.next_run_at, s.id
      limit ${input.limit}`
    if (due.length === 0) return { checkedAt: now, claimed: [] }
    const plans = due.map((row) => planFor(row, new Date(now)))
    const claimed = await tx<{ id: string; user_id: string; runs: boolean }[]>`
      update public.schedules s
      set next_run_at = p.next_run_at, next_run_time_zone = p.zone, enabled = p.enabled,
          last_error = coalesce(p.error, s.last_error)
      from jsonb_to_recordset(${jsonParam(tx, plans)})
        as p(id uuid, expected timestamptz, next_run_at timestamptz, zone text, enabled boolean, runs boolean,
             error jsonb)
      where s.id = p.id and s.enabled and s.next_run_at = p.expected
        and s.id in (
          select id from public.schedules
          where id = any(${plans.map((plan) => plan.id)}::uuid[]) and enabled and next_run_at <= ${now}
          for update skip locked)
      returning s.id, s.user_id, p.runs`
    const running = claimed.filter((row) => row.runs)
    const grants = running.length
      ? await tx<{ id: string; schedule_id: string; expires_at: string }[]>`
          insert into private.schedule_grants (user_id, schedule_id, expires_at)
          select user_id, schedule_id, now() + make_interval(secs => ${ttl})
          from unnest(${running.map((row) => row.user_id)}::uuid[], ${running.map((row) => row.id)}::uuid[])
            as g(user_id, schedule_id)
          returning id, schedule_id, expires_at`
      : []
    await tx`delete from private.schedule_grants where expires_at < now() - interval '1 day'`
    const grantOf = new Map(grants.map((grant) => [grant.schedule_id, grant]))
    return {
      checkedAt: now,
      claimed: claimed.map((row) => ({
        scheduleId: row.id,
        userId: row.user_id,
        runs: row.runs,
        grantId: grantOf.get(row.id)?.id ?? null,
        expiresAt: grantOf.get(row.id)?.expires_at ?? null,
      })),
    }
  })
}

/**
 * The claims a scheduled run acts with: the owner's, as an access token would carry them, with the
 * grant as the session. They are made here, after the service key was checked, and never leave the
 * process: no token is signed with them.
 */
function grantClaims(claim: Claimed): JwtClaims {
  const now = Math.floor(Date.now() / 1000)
  return {
    sub: claim.userId,
    role: 'authenticated',
    aud: 'authenticated',
    session_id: claim.grantId as string,
    iat: now,
    exp: Math.floor(new Date(claim.expiresAt as string).getTime() / 1000),
    is_anonymous: false,
    schedule_id: claim.scheduleId,
  }
}

const asError = (error: unknown): { code: string; message: string } => {
  const known = error instanceof DomainError ? error : toDomainError(error)
  if (known && known.code !== 'internal') return { code: known.code, message: known.message }
  console.error(JSON.stringify({ level: 'error', schedules: 'start failed', error: String(error) }))
  return { code: 'internal', message: 'The scheduled run could not start' }
}

/**
 * Claims the due schedules and starts each one's run as its owner, worked in the background with
 * its output broadcast through Realtime's REST API with the service key (there is no user token to
 * send). A run that cannot start (the user's run limits, a disabled agent) leaves its reason in the
 * schedule's last_error; one without a provider fails visibly on the run (provider_unavailable).
 */
export async function checkDueSchedules(input: DueCheck): Promise<DueCheckResult> {
  const { checkedAt, claimed } = await claimDue(input)
  const transport = realtimeRest(env('SUPABASE_SERVICE_ROLE_KEY') ?? '')
  const runs: DueCheckResult['runs'] = []
  for (const claim of claimed.filter((row) => row.runs && row.grantId)) {
    const ctx = userContext(grantClaims(claim))
    try {
      const started = await startScheduledRun(ctx, claim.scheduleId)
      // Deleted since it was claimed: nothing to run, nothing to record.
      if (!started) continue
      const run = await launchRun(ctx, started, transport)
      runs.push({ schedule_id: claim.scheduleId, run_id: run.id, status: run.status, error: run.error })
    } catch (error) {
      const reason = asError(error)
      await recordScheduleError(ctx, claim.scheduleId, reason).catch(() => {})
      runs.push({ schedule_id: claim.scheduleId, run_id: null, status: null, error: reason })
    }
  }
  return {
    checked_at: checkedAt,
    runs,
    rescheduled: claimed.filter((row) => !row.runs).map((row) => row.scheduleId),
  }
}
