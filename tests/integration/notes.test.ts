import { app as notes } from '../../functions/notes/app.ts'
import { app as tasks } from '../../functions/tasks/app.ts'
import { inProcess } from '../helpers/domain.ts'
import { notesScenarios } from '../scenarios/notes.ts'

notesScenarios(inProcess({ notes, tasks }, 'notes'))
