import { createRowRoute } from '../../../shared/http/row-routes.ts'
import { TaskCreateSchema, TaskSchema } from '../../../shared/tasks/schemas.ts'
import { createTask } from '../../../shared/tasks/service.ts'

export const { route, register } = createRowRoute({
  path: '/',
  summary: 'Create a task',
  bodySchema: TaskCreateSchema,
  rowSchema: TaskSchema,
  rowDescription: 'The task',
  idempotencyScope: 'tasks.create',
  create: createTask,
})
