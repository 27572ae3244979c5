import { deleteSchedule } from '../../../shared/ai/schedules.ts'
import { deleteRowRoute } from '../../../shared/http/routes.ts'

export const { route, register } = deleteRowRoute({
  path: '/schedules/{id}',
  summary: 'Delete a schedule (its runs and its conversation stay); conditional on If-Match',
  remove: deleteSchedule,
})
