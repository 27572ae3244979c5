import { listSchedules } from '../../../shared/ai/schedules.ts'
import { ScheduleSchema } from '../../../shared/ai/schedule-schemas.ts'
import { listRoute } from '../../../shared/http/routes.ts'

export const { route, register } = listRoute({
  path: '/schedules',
  summary: 'Your scheduled check-ins, oldest first (filter by kind and enabled)',
  itemSchema: ScheduleSchema,
  pageDescription: 'A page of schedules',
  list: listSchedules,
})
