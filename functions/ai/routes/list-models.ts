import { listModels } from '../../../shared/ai/models.ts'
import { ModelCatalogSchema } from '../../../shared/ai/schemas.ts'
import type { App } from '../../../shared/http/app.ts'
import { jsonResponse, userRoute } from '../../../shared/http/routes.ts'

export const route = userRoute({
  method: 'get',
  path: '/models',
  summary: 'The configured AI providers and models (never a key)',
  description:
    'Which providers this deployment has keys or base URLs for, the default model and the fallbacks. ' +
    'A provider that is not configured lists the variables that would configure it.',
  responses: { 200: jsonResponse('The model catalog', ModelCatalogSchema) },
})

export function register(app: App): void {
  app.openapi(route, (c) => c.json(listModels(), 200))
}
