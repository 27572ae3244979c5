import { updateRowRoute } from '../../../shared/http/row-routes.ts'
import { TaskSchema, TaskStatusChangeSchema } from '../../../shared/tasks/schemas.ts'
import { setTaskStatus } from '../../../shared/tasks/service.ts'

export const { route, register } = updateRowRoute({
  path: '/{id}/status',
  summary: 'Set a task’s status (done sets completed_at, anything else clears it)',
  bodySchema: TaskStatusChangeSchema,
  rowSchema: TaskSchema,
  rowDescription: 'The task',
  // A status alone breaks none of the rules that answer 409.
  conflicts: false,
  update: ({ ctx, input: { id, changes, expected } }) =>
    setTaskStatus({ ctx, input: { id, status: changes.status, expected } }),
})
