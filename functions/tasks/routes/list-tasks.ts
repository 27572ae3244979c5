import { listRoute } from '../../../shared/http/routes.ts'
import { TaskSchema } from '../../../shared/tasks/schemas.ts'
import { listTasks } from '../../../shared/tasks/service.ts'

export const { route, register } = listRoute({
  path: '/',
  summary: 'The signed-in user’s tasks, filtered and sorted',
  itemSchema: TaskSchema,
  pageDescription: 'A page of tasks',
  list: listTasks,
})
