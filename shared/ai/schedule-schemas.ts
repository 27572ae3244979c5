import { z } from '@hono/zod-openapi'
import { listQuerySchema } from '../core/pages.ts'
import { ExpectedVersionsSchema, FlagSchema, IdSchema, TimestampSchema } from '../core/schemas.ts'
import { cronProblem, isTimeZone, normalizeCron } from './cron.ts'
import { AgentIdSchema, RunErrorSchema } from './schemas.ts'

// Scheduled check-ins (docs/adr/0031-scheduled-check-ins.md): an agent asked something on a cron
// expression in the user's time zone. Presets: a daily plan every morning, a weekly review on
// Sunday evening; or a prompt of the user's own.

export const SCHEDULE_KINDS = ['daily_plan', 'weekly_review', 'custom'] as const
export const ScheduleKindSchema = z.enum(SCHEDULE_KINDS).openapi('ScheduleKind')
export type ScheduleKind = z.infer<typeof ScheduleKindSchema>

const noNul = (text: string) => !text.includes('\u0000')

export const SchedulePromptSchema = z
  .string()
  .trim()
  .min(1)
  .max(4000)
  .refine(noNul, 'must not contain NUL characters')
  .openapi({ description: 'What the agent is asked each time (at most 4000 characters)' })

export const CronSchema = z
  .string()
  .max(200)
  .superRefine((value, ctx) => {
    const problem = cronProblem(value)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  })
  .transform((value) => normalizeCron(value) as string)
  .openapi({
    type: 'string',
    description:
      'Five fields: minute, hour, day of month, month, day of week (0 or 7 is Sunday; names such as MON ' +
      'and JAN, lists, ranges and steps as in crontab), read in the schedule’s time zone',
    example: '0 7 * * 1-5',
  })

export const TimeZoneSchema = z
  .string()
  .max(64)
  .refine(isTimeZone, 'must be an IANA time zone, e.g. Europe/Berlin')
  .openapi({ example: 'Europe/Berlin' })

const scheduleFields = {
  kind: ScheduleKindSchema,
  agent_id: AgentIdSchema.openapi({
    description: 'The agent asked; default: planner for daily_plan, coordinator otherwise',
  }),
  prompt: SchedulePromptSchema.nullable().openapi({
    description: 'Required for custom; null for a preset: its built-in prompt',
  }),
  cron: CronSchema,
  time_zone: TimeZoneSchema.nullable().openapi({
    description: 'An IANA time zone; null: the user’s (preferences.timezone, else UTC)',
  }),
  conversation_id: IdSchema.nullable().openapi({
    description:
      'One of your conversations to answer in; null: one of the schedule’s own, made by its first run',
  }),
  enabled: z.boolean(),
}

export const ScheduleCreateSchema = z
  .strictObject({
    kind: scheduleFields.kind,
    agent_id: scheduleFields.agent_id.optional(),
    prompt: scheduleFields.prompt.default(null),
    cron: scheduleFields.cron.optional().openapi({
      description: 'Required for custom; default 0 7 * * * (daily_plan), 0 18 * * 0 (weekly_review)',
    }),
    time_zone: scheduleFields.time_zone.default(null),
    conversation_id: scheduleFields.conversation_id.default(null),
    enabled: scheduleFields.enabled.default(true),
  })
  .superRefine((schedule, ctx) => {
    if (schedule.kind !== 'custom') return
    if (schedule.prompt === null)
      ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'A custom schedule needs a prompt' })
    if (schedule.cron === undefined)
      ctx.addIssue({ code: 'custom', path: ['cron'], message: 'A custom schedule needs a cron expression' })
  })
  .openapi('ScheduleCreate')

/** A partial update: only the fields given change; the schedule as it then is must still hold. */
export const ScheduleUpdateSchema = z.strictObject(scheduleFields).partial().openapi('ScheduleUpdate')

export const ScheduleSchema = z
  .object({
    id: z.uuid(),
    user_id: z.uuid(),
    kind: ScheduleKindSchema,
    agent_id: z.string(),
    prompt: z.string().nullable().openapi({ description: 'Null: the preset’s built-in prompt' }),
    cron: z.string(),
    time_zone: z.string().nullable().openapi({ description: 'Null: the user’s time zone' }),
    next_run_time_zone: z
      .string()
      .nullable()
      .openapi({ description: 'The time zone next_run_at was worked out in' }),
    conversation_id: z.uuid().nullable().openapi({ description: 'Null until its first run makes one' }),
    enabled: z.boolean(),
    next_run_at: TimestampSchema.nullable().openapi({
      description: 'When it is next due; null while disabled',
    }),
    last_run_id: z.uuid().nullable(),
    last_run_at: TimestampSchema.nullable(),
    last_error: RunErrorSchema.nullable().openapi({
      description:
        'Why its last due time started no run (e.g. rate_limited, conflict for a disabled agent); null once one starts',
    }),
    created_at: TimestampSchema,
    updated_at: TimestampSchema.openapi({ description: 'Also the ETag' }),
  })
  .openapi('Schedule')

export type Schedule = z.infer<typeof ScheduleSchema>
export type ScheduleCreate = z.infer<typeof ScheduleCreateSchema>
export type ScheduleUpdate = z.infer<typeof ScheduleUpdateSchema>

export const ScheduleListQuerySchema = listQuerySchema.extend({
  kind: ScheduleKindSchema.optional().openapi({ description: 'Only schedules of this kind' }),
  enabled: FlagSchema.optional().openapi({
    description: 'Only enabled (true) or disabled (false) schedules',
  }),
})

export const ScheduleIdInputSchema = z.object({ id: IdSchema })

export const ScheduleChangeSchema = z.object({
  id: IdSchema,
  changes: ScheduleUpdateSchema,
  expected: ExpectedVersionsSchema,
})

export const ScheduleVersionSchema = z.object({ id: IdSchema, expected: ExpectedVersionsSchema })

/** The due check's request: at most `limit` schedules, optionally only some users'. */
export const DueCheckSchema = z
  .strictObject({
    limit: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(25)
      .openapi({ description: 'At most this many schedules' }),
    user_ids: z.array(z.uuid()).min(1).max(100).optional().openapi({
      description: 'Only these users’ schedules (an operator re-checking one user); default: everyone’s',
    }),
  })
  .openapi('DueCheck')

export const DueCheckResultSchema = z
  .object({
    checked_at: TimestampSchema,
    runs: z.array(
      z.object({
        schedule_id: z.uuid(),
        run_id: z.uuid().nullable().openapi({ description: 'Null when no run could start (see error)' }),
        status: z.string().nullable(),
        error: RunErrorSchema.nullable(),
      }),
    ),
    rescheduled: z.array(z.uuid()).openapi({
      description:
        'Schedules claimed without a run: moved to their new time zone’s time, or turned off (see last_error)',
    }),
  })
  .openapi('DueCheckResult')

export type DueCheck = z.infer<typeof DueCheckSchema>
export type DueCheckResult = z.infer<typeof DueCheckResultSchema>
