import { createApp } from '../../shared/http/app.ts'
import * as cancelRun from './routes/cancel-run.ts'
import * as createAgent from './routes/create-agent.ts'
import * as deleteAgent from './routes/delete-agent.ts'
import * as getAgent from './routes/get-agent.ts'
import * as getRun from './routes/get-run.ts'
import * as listAgents from './routes/list-agents.ts'
import * as listModels from './routes/list-models.ts'
import * as listRuns from './routes/list-runs.ts'
import * as startRun from './routes/start-run.ts'
import * as undoRun from './routes/undo-run.ts'
import * as updateAgent from './routes/update-agent.ts'

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
  undoRun,
])
  route.register(app)
