import { z } from '@hono/zod-openapi'
import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { IdParamsSchema } from '../../../shared/http/params.ts'
import { jsonResponse, userRoute } from '../../../shared/http/routes.ts'
import { getDocument } from '../../../shared/knowledge/documents.ts'
import { DocumentGetSchema, DocumentWithTextSchema } from '../../../shared/knowledge/schemas.ts'

const QuerySchema = z.object({
  include_text: DocumentGetSchema.shape.include_text.openapi({
    param: { name: 'include_text', in: 'query' },
  }),
})

export const route = userRoute({
  method: 'get',
  path: '/documents/{id}',
  summary:
    'A document: its status, passage count, embedding model and error (and with include_text, its text)',
  request: { params: IdParamsSchema, query: QuerySchema },
  responses: { 200: jsonResponse('The document', DocumentWithTextSchema) },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const input = { ...c.req.valid('param'), ...c.req.valid('query') }
    return c.json(await getDocument.trusted({ ctx: serviceContext(c), input }), 200)
  })
}
