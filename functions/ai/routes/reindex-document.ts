import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { IdParamsSchema } from '../../../shared/http/params.ts'
import { jsonResponse, userRoute } from '../../../shared/http/routes.ts'
import { reindexDocument } from '../../../shared/knowledge/documents.ts'
import { KnowledgeDocumentSchema } from '../../../shared/knowledge/schemas.ts'

export const route = userRoute({
  method: 'post',
  path: '/documents/{id}/reindex',
  summary: 'Cut and embed a document again, with the configured embedding model (AI_EMBEDDING_MODEL)',
  description:
    'A small document is ready again when this answers (200); a large one finishes in the background (202). ' +
    'Its old passages answer searches until the new ones replace them.',
  request: { params: IdParamsSchema },
  responses: {
    200: jsonResponse('The document, indexed again', KnowledgeDocumentSchema),
    202: jsonResponse('The document, being indexed again in the background', KnowledgeDocumentSchema),
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const { document } = await reindexDocument.trusted({
      ctx: serviceContext(c),
      input: c.req.valid('param'),
    })
    return c.json(document, document.status === 'ready' ? 200 : 202)
  })
}
