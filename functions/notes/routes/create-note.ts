import { createRowRoute } from '../../../shared/http/routes.ts'
import { NoteSchema } from '../../../shared/notes/schemas.ts'
import { createNote } from '../../../shared/notes/service.ts'

export const { route, register } = createRowRoute({
  path: '/',
  summary: 'Create a note (its checklist items become tasks)',
  rowSchema: NoteSchema,
  rowDescription: 'The note',
  create: createNote,
})
