import { getRowRoute } from '../../../shared/http/routes.ts'
import { NoteSchema } from '../../../shared/notes/schemas.ts'
import { getNote } from '../../../shared/notes/service.ts'

export const { route, register } = getRowRoute({
  path: '/{id}',
  summary: 'A note',
  rowSchema: NoteSchema,
  rowDescription: 'The note',
  get: getNote,
})
