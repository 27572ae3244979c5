import { BlockSchema } from '../../shared/blocknote/schema.ts'
import { createApp } from '../../shared/http/app.ts'
import { MAX_NOTE_BYTES } from '../../shared/notes/schemas.ts'
import * as createNote from './routes/create-note.ts'
import * as deleteNote from './routes/delete-note.ts'
import * as getNote from './routes/get-note.ts'
import * as listNoteTasks from './routes/list-note-tasks.ts'
import * as listNotes from './routes/list-notes.ts'
import * as updateNote from './routes/update-note.ts'

// Room for a note of the largest size plus its title and fields; the note itself is measured by the service.
export const app = createApp('notes', { maxBodyBytes: MAX_NOTE_BYTES + 64 * 1024 })
// Note content refers to blocks by $ref (the schema is recursive), so the block schema is registered by name.
app.openAPIRegistry.register('Block', BlockSchema)
for (const route of [listNotes, createNote, getNote, updateNote, deleteNote, listNoteTasks])
  route.register(app)
