import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { IdParamsSchema } from '../../../shared/http/params.ts'
import { userRoute } from '../../../shared/http/routes.ts'
import { deleteDocument } from '../../../shared/knowledge/documents.ts'

export const route = userRoute({
  method: 'delete',
  path: '/documents/{id}',
  summary: 'Delete a document with its passages (retrieval no longer finds them)',
  request: { params: IdParamsSchema },
  responses: { 204: { description: 'Deleted' } },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    await deleteDocument.trusted({ ctx: serviceContext(c), input: c.req.valid('param') })
    return c.body(null, 204)
  })
}
