import { BlockSchema } from '../../shared/blocknote/schema.ts'
import { createApp } from '../../shared/http/app.ts'
import { requestIndexing } from '../../shared/knowledge/handoff.ts'
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
// A saved note (created or changed) is indexed for retrieval in the background: once the save has
// answered, the ai function is asked to drain the user's queue. A deleted note's passages go with it.
app.use('*', async (c, next) => {
  await next()
  const saved =
    (c.req.method === 'POST' || c.req.method === 'PUT') && c.res.status >= 200 && c.res.status < 300
  const token = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1]
  if (saved && token && c.get('userId')) requestIndexing(token)
})
for (const route of [listNotes, createNote, getNote, updateNote, deleteNote, listNoteTasks])
  route.register(app)
