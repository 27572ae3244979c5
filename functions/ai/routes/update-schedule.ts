import { updateSchedule } from '../../../shared/ai/schedules.ts'
import { ScheduleSchema } from '../../../shared/ai/schedule-schemas.ts'
import { updateRowRoute } from '../../../shared/http/routes.ts'

export const { route, register } = updateRowRoute({
  path: '/schedules/{id}',
  summary: 'Change the fields given of a schedule (conditional on If-Match)',
  description:
    'Changing cron, time_zone or enabled works out when it is next due anew, from now; turning it off ' +
    'clears next_run_at. A bad cron expression, time zone, agent or conversation is a 422 and changes nothing.',
  rowSchema: ScheduleSchema,
  rowDescription: 'The schedule',
  update: updateSchedule,
  conflicts: false,
})
