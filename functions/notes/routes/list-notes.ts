import { listRoute } from '../../../shared/http/routes.ts'
import { NoteSchema } from '../../../shared/notes/schemas.ts'
import { listNotes } from '../../../shared/notes/service.ts'

export const { route, register } = listRoute({
  path: '/',
  summary: 'The signed-in user’s notes: pinned first, then most recently changed',
  itemSchema: NoteSchema,
  pageDescription: 'A page of notes',
  list: listNotes,
})
