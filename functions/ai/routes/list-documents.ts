import { listRoute } from '../../../shared/http/routes.ts'
import { listDocuments } from '../../../shared/knowledge/documents.ts'
import { KnowledgeDocumentSchema } from '../../../shared/knowledge/schemas.ts'

export const { route, register } = listRoute({
  path: '/documents',
  summary: 'Your documents, newest first (filter by status: pending, processing, ready, failed)',
  itemSchema: KnowledgeDocumentSchema,
  pageDescription: 'A page of documents',
  list: listDocuments,
})
