import { listQuerySchema } from '../../../shared/http/pagination.ts'
import { childListRoute } from '../../../shared/http/row-routes.ts'
import { listNoteTasks } from '../../../shared/notes/service.ts'
import { TaskSchema } from '../../../shared/tasks/schemas.ts'

export const { route, register } = childListRoute({
  path: '/{id}/tasks',
  summary: 'The tasks of a note’s checklist items, in the order they were made',
  querySchema: listQuerySchema,
  itemSchema: TaskSchema,
  pageDescription: 'A page of tasks',
  list: listNoteTasks,
})
