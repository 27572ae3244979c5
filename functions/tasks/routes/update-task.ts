import { updateRowRoute } from '../../../shared/http/routes.ts'
import { TaskSchema } from '../../../shared/tasks/schemas.ts'
import { updateTask } from '../../../shared/tasks/service.ts'

export const { route, register } = updateRowRoute({
  path: '/{id}',
  summary: 'Change the fields given of a task',
  description:
    'A checklist task changed here keeps its title when its note is saved again; a status change is written into the note’s checklist.',
  rowSchema: TaskSchema,
  rowDescription: 'The task',
  update: updateTask,
})
