import { getSchedule } from '../../../shared/ai/schedules.ts'
import { ScheduleSchema } from '../../../shared/ai/schedule-schemas.ts'
import { getRowRoute } from '../../../shared/http/routes.ts'

export const { route, register } = getRowRoute({
  path: '/schedules/{id}',
  summary: 'A schedule: when it is next due, its last run and why its last due time started none',
  rowSchema: ScheduleSchema,
  rowDescription: 'The schedule',
  get: getSchedule,
})
