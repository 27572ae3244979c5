import { createRowRoute } from '../../../shared/http/row-routes.ts'
import { NoteCreateSchema, NoteSchema } from '../../../shared/notes/schemas.ts'
import { createNote } from '../../../shared/notes/service.ts'

export const { route, register } = createRowRoute({
  path: '/',
  summary: 'Create a note (its checklist items become tasks)',
  bodySchema: NoteCreateSchema,
  rowSchema: NoteSchema,
  rowDescription: 'The note',
  idempotencyScope: 'notes.create',
  create: createNote,
})
