import { visionTranscriber } from '../../shared/ai/vision.ts'
import { createApp } from '../../shared/http/app.ts'
import * as approveRun from './routes/approve-run.ts'
import { registerVisionTranscriber } from '../../shared/knowledge/transcribe.ts'
import * as cancelRun from './routes/cancel-run.ts'
import * as checkDueSchedules from './routes/check-due-schedules.ts'
import * as createAgent from './routes/create-agent.ts'
import * as createSchedule from './routes/create-schedule.ts'
import * as deleteAgent from './routes/delete-agent.ts'
import * as deleteSchedule from './routes/delete-schedule.ts'
import * as deleteDocument from './routes/delete-document.ts'
import * as drainDueKnowledge from './routes/drain-due-knowledge.ts'
import * as drainKnowledge from './routes/drain-knowledge.ts'
import * as getAgent from './routes/get-agent.ts'
import * as getDocument from './routes/get-document.ts'
import * as getRun from './routes/get-run.ts'
import * as getSchedule from './routes/get-schedule.ts'
import * as listAgents from './routes/list-agents.ts'
import * as listDocuments from './routes/list-documents.ts'
import * as listModels from './routes/list-models.ts'
import * as listRuns from './routes/list-runs.ts'
import * as listSchedules from './routes/list-schedules.ts'
import * as processDocument from './routes/process-document.ts'
import * as ragQuery from './routes/rag-query.ts'
import * as reindexDocument from './routes/reindex-document.ts'
import * as runSchedule from './routes/run-schedule.ts'
import * as startRun from './routes/start-run.ts'
import * as transcribe from './routes/transcribe.ts'
import * as undoRun from './routes/undo-run.ts'
import * as updateAgent from './routes/update-agent.ts'
import * as updateSchedule from './routes/update-schedule.ts'
import { MAX_UPLOAD_BODY_BYTES } from './routes/uploads.ts'

// Uploads (a 10 MiB file, as base64 in JSON or as a form) take larger bodies than the other routes.
export const app = createApp('ai', {
  largeBodies: { '/documents/process': MAX_UPLOAD_BODY_BYTES, '/transcribe': MAX_UPLOAD_BODY_BYTES },
})
app.openAPIRegistry.registerComponent('securitySchemes', 'serviceRoleKey', {
  type: 'http',
  scheme: 'bearer',
  description: "The project's service-role key: routes the platform calls on a schedule",
})
// Transcription uses a vision model when the default provider can see (else offline OCR).
registerVisionTranscriber(visionTranscriber())

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
  processDocument,
  listDocuments,
  getDocument,
  deleteDocument,
  reindexDocument,
  ragQuery,
  transcribe,
  drainKnowledge,
  drainDueKnowledge,
])
  route.register(app)
