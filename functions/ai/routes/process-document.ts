import type { z } from '@hono/zod-openapi'
import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { errorResponse } from '../../../shared/http/openapi.ts'
import { jsonResponse, userRoute } from '../../../shared/http/routes.ts'
import { processDocument, storeDocument } from '../../../shared/knowledge/documents.ts'
import {
  type DocumentForm,
  DocumentFormSchema,
  DocumentProcessSchema,
  KnowledgeDocumentSchema,
} from '../../../shared/knowledge/schemas.ts'
import { documentUpload, isForm } from './uploads.ts'

export const route = userRoute({
  method: 'post',
  path: '/documents/process',
  summary: 'Upload a document: stored, cut into passages and embedded for retrieval',
  description:
    'JSON `{title, text, mime_type?}` (text/plain, text/markdown, text/html) or `{title, content_base64, mime_type}` ' +
    '(also application/pdf, and images, which are transcribed first), or a `multipart/form-data` upload with the ' +
    'file in `file`; at most 10 MiB. A small document is ready when this answers (201); a large one is stored ' +
    'and finishes in the background (202, status pending or processing; follow it with GET ai/documents/{id}). ' +
    'The same bytes uploaded again answer the document they made (200). Refusals (413, 415, 422) store nothing.',
  request: {
    body: {
      required: false,
      content: {
        'application/json': { schema: DocumentProcessSchema },
        'multipart/form-data': { schema: DocumentFormSchema },
      },
    },
  },
  responses: {
    200: jsonResponse('The same content was uploaded before: that document', KnowledgeDocumentSchema),
    201: jsonResponse('The document, ready: its passages are searchable', KnowledgeDocumentSchema),
    202: jsonResponse(
      'The document, stored; its passages are being made in the background (status pending or processing)',
      KnowledgeDocumentSchema,
    ),
    413: errorResponse(413, 'The file is larger than 10 MiB (payload_too_large)'),
    415: errorResponse(
      415,
      'Not text, Markdown, HTML, PDF, PNG, JPEG or WebP, or a body that is neither JSON nor a form (unsupported_media_type)',
    ),
    422: errorResponse(
      422,
      'A field is missing or wrong, the base64 is not, the file is not what its type says (a corrupt PDF, an ' +
        'image that cannot be decoded) or it has no text (validation_failed)',
    ),
  },
})

const statusOf = { created: 201, accepted: 202, existing: 200 } as const

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c)
    const { document, outcome } = isForm(c)
      ? await storeDocument(ctx, await documentUpload(c.req.valid('form') as DocumentForm))
      : // Validated here (the body is optional to the router, which lets a form through): `{}` is a 422.
        await processDocument({ ctx, input: c.req.valid('json') as z.input<typeof DocumentProcessSchema> })
    return c.json(document, statusOf[outcome])
  })
}
