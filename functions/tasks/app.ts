import { createApp } from '../../shared/http/app.ts'
import * as createTask from './routes/create-task.ts'
import * as deleteTask from './routes/delete-task.ts'
import * as getTask from './routes/get-task.ts'
import * as listTasks from './routes/list-tasks.ts'
import * as setTaskStatus from './routes/set-task-status.ts'
import * as updateTask from './routes/update-task.ts'

export const app = createApp('tasks')
for (const route of [listTasks, createTask, getTask, updateTask, setTaskStatus, deleteTask])
  route.register(app)
