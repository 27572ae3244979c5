import { listNoteTasks } from '../../../shared/tasks/service.ts'
import { childListRoute } from '../../../shared/http/routes.ts'
import { TaskSchema } from '../../../shared/tasks/schemas.ts'

export const { route, register } = childListRoute({
  path: '/{id}/tasks',
  summary: 'The tasks of a note’s checklist items, in the order they were made',
  itemSchema: TaskSchema,
  pageDescription: 'A page of tasks',
  list: listNoteTasks,
})
