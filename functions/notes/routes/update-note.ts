import { updateRowRoute } from '../../../shared/http/routes.ts'
import { NoteSchema } from '../../../shared/notes/schemas.ts'
import { updateNote } from '../../../shared/notes/service.ts'

export const { route, register } = updateRowRoute({
  path: '/{id}',
  summary: 'Change the fields given of a note (new content re-syncs its checklist tasks)',
  rowSchema: NoteSchema,
  rowDescription: 'The note',
  update: updateNote,
})
