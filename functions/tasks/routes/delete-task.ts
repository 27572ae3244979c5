import { deleteRowRoute } from '../../../shared/http/routes.ts'
import { deleteTask } from '../../../shared/tasks/service.ts'

export const { route, register } = deleteRowRoute({
  path: '/{id}',
  summary: 'Delete a task with its subtasks (a checklist task takes its block out of the note)',
  remove: deleteTask,
})
