import { deleteRowRoute } from '../../../shared/http/routes.ts'
import { deleteNote } from '../../../shared/notes/service.ts'

export const { route, register } = deleteRowRoute({
  path: '/{id}',
  summary: 'Delete a note with its sub-notes and their checklist tasks',
  remove: deleteNote,
})
