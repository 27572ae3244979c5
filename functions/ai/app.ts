import { createApp } from '../../shared/http/app.ts'
import * as approveRun from './routes/approve-run.ts'
import * as cancelRun from './routes/cancel-run.ts'
import * as checkDueSchedules from './routes/check-due-schedules.ts'
import * as createAgent from './routes/create-agent.ts'
import * as createSchedule from './routes/create-schedule.ts'
import * as deleteAgent from './routes/delete-agent.ts'
import * as deleteSchedule from './routes/delete-schedule.ts'
import * as getAgent from './routes/get-agent.ts'
import * as getRun from './routes/get-run.ts'
import * as getSchedule from './routes/get-schedule.ts'
import * as listAgents from './routes/list-agents.ts'
import * as listModels from './routes/list-models.ts'
import * as listRuns from './routes/list-runs.ts'
import * as listSchedules from './routes/list-schedules.ts'
import * as runSchedule from './routes/run-schedule.ts'
import * as startRun from './routes/start-run.ts'
import * as undoRun from './routes/undo-run.ts'
import * as updateAgent from './routes/update-agent.ts'
import * as updateSchedule from './routes/update-schedule.ts'

export const app = createApp('ai')
for (const route of [
  listModels,
  listAgents,
  createAgent,
  getAgent,
  updateAgent,
  deleteAgent,
  startRun,
  listRuns,
  getRun,
  cancelRun,
  approveRun,
  // The due check before /schedules/{id}, so `due` is never read as an id.
  checkDueSchedules,
  listSchedules,
  createSchedule,
  getSchedule,
  updateSchedule,
  deleteSchedule,
  runSchedule,
  undoRun,
])
  route.register(app)
