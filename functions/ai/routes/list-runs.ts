import { listRuns } from '../../../shared/ai/runs.ts'
import { RunSchema } from '../../../shared/ai/schemas.ts'
import { listRoute } from '../../../shared/http/routes.ts'

export const { route, register } = listRoute({
  path: '/runs',
  summary: 'Your runs, newest first (filter by conversation and status)',
  itemSchema: RunSchema,
  pageDescription: 'A page of runs',
  list: listRuns,
})
