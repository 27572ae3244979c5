import { getRowRoute } from '../../../shared/http/routes.ts'
import { TaskSchema } from '../../../shared/tasks/schemas.ts'
import { getTask } from '../../../shared/tasks/service.ts'

export const { route, register } = getRowRoute({
  path: '/{id}',
  summary: 'A task',
  rowSchema: TaskSchema,
  rowDescription: 'The task',
  get: getTask,
})
