import { updateRowRoute } from '../../../shared/http/routes.ts'
import { TaskSchema } from '../../../shared/tasks/schemas.ts'
import { setTaskStatus } from '../../../shared/tasks/service.ts'

export const { route, register } = updateRowRoute({
  path: '/{id}/status',
  summary: 'Set a task’s status (done sets completed_at, anything else clears it)',
  rowSchema: TaskSchema,
  rowDescription: 'The task',
  // A status alone breaks none of the rules that answer 409.
  conflicts: false,
  update: setTaskStatus,
})
