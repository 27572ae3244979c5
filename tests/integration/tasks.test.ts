import { app as notes } from '../../functions/notes/app.ts'
import { app as tasks } from '../../functions/tasks/app.ts'
import { inProcess } from '../helpers/domain.ts'
import { tasksScenarios } from '../scenarios/tasks.ts'

tasksScenarios(inProcess({ notes, tasks }, 'tasks'))
