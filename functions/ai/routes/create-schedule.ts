import { createSchedule } from '../../../shared/ai/schedules.ts'
import { ScheduleSchema } from '../../../shared/ai/schedule-schemas.ts'
import { createRowRoute } from '../../../shared/http/routes.ts'

export const { route, register } = createRowRoute({
  path: '/schedules',
  summary: 'Schedule an agent: a daily plan, a weekly review, or a prompt of your own on a cron expression',
  description:
    '`daily_plan` asks the planner every morning (`0 7 * * *`), `weekly_review` the coordinator on Sunday ' +
    'evening (`0 18 * * 0`); `custom` needs `prompt` and `cron`. Any of agent_id, prompt and cron may be ' +
    'given to a preset too. The cron is read in `time_zone`, else your preferences’ `timezone`, else UTC. ' +
    'Runs answer in `conversation_id`, or in a conversation of the schedule’s own made by its first run. ' +
    'A bad cron expression, time zone, agent or conversation is a 422, and nothing is stored.',
  rowSchema: ScheduleSchema,
  rowDescription: 'The schedule, with when it is next due',
  create: createSchedule,
})
