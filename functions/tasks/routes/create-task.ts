import { createRowRoute } from '../../../shared/http/routes.ts'
import { TaskSchema } from '../../../shared/tasks/schemas.ts'
import { createTask } from '../../../shared/tasks/service.ts'

export const { route, register } = createRowRoute({
  path: '/',
  summary: 'Create a task',
  rowSchema: TaskSchema,
  rowDescription: 'The task',
  create: createTask,
})
