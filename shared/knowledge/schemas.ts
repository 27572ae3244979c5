import { z } from '@hono/zod-openapi'
import { listQuerySchema } from '../core/pages.ts'
import { FlagSchema, IdSchema, listOf, MetadataSchema, TimestampSchema } from '../core/schemas.ts'
import { embeddingModelNames } from './embeddings.ts'

// The knowledge verbs' inputs and outputs: documents (process, list, get, delete, reindex), the
// indexing queue (drain) and retrieval (rag/query). Request bodies of the ai function's routes.

export const DocumentStatusSchema = z.enum(['pending', 'processing', 'ready', 'failed'])

export const KnowledgeDocumentSchema = z
  .object({
    id: z.uuid(),
    user_id: z.uuid(),
    title: z.string(),
    source: z.string().nullable(),
    mime_type: z.string(),
    size_bytes: z.number().int(),
    checksum: z.string().nullable().openapi({ description: 'SHA-256 of the bytes uploaded, hex' }),
    status: DocumentStatusSchema,
    error: z
      .string()
      .nullable()
      .openapi({ description: 'Why processing failed, or why its last attempt did' }),
    embedding_model: z.string().nullable().openapi({ description: 'The model its chunks are embedded with' }),
    chunk_count: z.number().int(),
    metadata: z.record(z.string(), z.unknown()),
    processed_at: TimestampSchema.nullable(),
    created_at: TimestampSchema,
    updated_at: TimestampSchema,
  })
  .openapi('KnowledgeDocument')

export type KnowledgeDocument = z.infer<typeof KnowledgeDocumentSchema>

const title = z.string().trim().min(1).max(500)
const source = z.string().trim().min(1).max(2048).optional().openapi({ description: 'A file name or URL' })

export const DocumentTextInputSchema = z
  .strictObject({
    title,
    text: z.string().min(1).openapi({ description: 'The document itself (at most 10 MiB of UTF-8)' }),
    mime_type: z
      .string()
      .max(200)
      .default('text/plain')
      .openapi({ description: 'text/plain (default), text/markdown or text/html' }),
    source,
    metadata: MetadataSchema.default({}),
  })
  .openapi('DocumentTextInput')

export const DocumentFileInputSchema = z
  .strictObject({
    title,
    content_base64: z.string().min(1).openapi({ description: 'The file, base64 (at most 10 MiB decoded)' }),
    mime_type: z.string().min(1).max(200).openapi({
      description: 'text/plain, text/markdown, text/html, application/pdf, image/png, image/jpeg, image/webp',
    }),
    source,
    metadata: MetadataSchema.default({}),
  })
  .openapi('DocumentFileInput')

/** POST ai/documents/process: `{title, text}` or `{title, content_base64, mime_type}`. */
export const DocumentProcessSchema = z
  .union([DocumentTextInputSchema, DocumentFileInputSchema], {
    error: 'Send {title, text, mime_type?} or {title, content_base64, mime_type}',
  })
  .openapi('DocumentProcess')

export type DocumentProcessInput = z.infer<typeof DocumentProcessSchema>

/**
 * What processing did: `created` (ready now: 201), `accepted` (stored; chunks and embeddings are
 * being made in the background: 202), `existing` (the same bytes were uploaded before: that
 * document, 200).
 */
export const ProcessOutcomeSchema = z.enum(['created', 'accepted', 'existing'])

export const DocumentProcessResultSchema = z.object({
  document: KnowledgeDocumentSchema,
  outcome: ProcessOutcomeSchema,
})

/** A file part of a multipart form (its `type` is the MIME type unless the form names one). */
export const UploadFileSchema = z
  .custom<Blob>((value) => value instanceof Blob, { message: 'A file is required in the form field "file"' })
  .openapi({ type: 'string', format: 'binary' })

const formMetadata = z
  .string()
  .max(64 * 1024)
  .optional()
  .openapi({ description: 'A JSON object (at most 64 KiB)' })

/** POST ai/documents/process as `multipart/form-data`: the file and what the JSON body would say of it. */
export const DocumentFormSchema = z
  .object({
    file: UploadFileSchema,
    title: title.optional().openapi({ description: "The document's title (default: the file's name)" }),
    mime_type: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: "Default: the file part's type" }),
    source: source.openapi({ description: "A file name or URL (default: the file's name)" }),
    metadata: formMetadata,
  })
  .openapi('DocumentUpload')

export type DocumentForm = z.infer<typeof DocumentFormSchema>

export const DocumentListQuerySchema = listQuerySchema.extend({
  status: DocumentStatusSchema.optional().openapi({ param: { name: 'status', in: 'query' } }),
})

export const DocumentGetSchema = z.object({
  id: IdSchema,
  include_text: FlagSchema.default(false).openapi({ description: 'Also the extracted text (default false)' }),
})

export const DocumentWithTextSchema = KnowledgeDocumentSchema.extend({ text: z.string().optional() })

export const DrainSchema = z.object({
  limit: z.coerce.number().int().min(1).max(50).default(10),
})

export const RagSourceSchema = z.enum(['notes', 'documents'])

export const RagFiltersSchema = z
  .strictObject({
    sources: listOf(RagSourceSchema).optional().openapi({ description: 'notes, documents; default both' }),
    document_ids: listOf(IdSchema).optional(),
    note_ids: listOf(IdSchema).optional(),
    created_after: TimestampSchema.optional().openapi({ description: 'Sources created at or after' }),
    created_before: TimestampSchema.optional().openapi({ description: 'Sources created before' }),
  })
  .openapi('RagFilters')

/** POST ai/rag/query. `generate` asks for an answer grounded in the passages (the ai function's part). */
export const RagQuerySchema = z
  .strictObject({
    query: z.string().trim().min(1).max(2000),
    k: z.coerce.number().int().min(1).max(50).default(8),
    filters: RagFiltersSchema.default({}),
    generate: FlagSchema.default(false),
  })
  .openapi('RagQuery')

export type RagQueryInput = z.infer<typeof RagQuerySchema>

export const CitationSchema = z
  .object({
    source: z.enum(['document', 'note']),
    document_id: z.uuid().nullable(),
    note_id: z.uuid().nullable(),
    title: z.string(),
    heading_path: z.array(z.string()),
    page: z.number().int().nullable(),
    char_start: z.number().int().openapi({ description: "Where the passage starts in its source's text" }),
    char_end: z.number().int(),
    chunk_index: z.number().int(),
  })
  .openapi('Citation')

export const PassageSchema = z
  .object({
    /** 1-based: the number an answer cites as [n]. */
    n: z.number().int(),
    chunk_id: z.uuid(),
    content: z.string(),
    score: z.number(),
    text_rank: z.number().int().nullable(),
    vector_rank: z.number().int().nullable(),
    similarity: z.number().nullable(),
    citation: CitationSchema,
  })
  .openapi('Passage')

export type Passage = z.infer<typeof PassageSchema>

export const RagResultSchema = z
  .object({
    query: z.string(),
    embedding_model: z.enum(embeddingModelNames as [string, ...string[]]).nullable(),
    passages: z.array(PassageSchema),
  })
  .openapi('RagResult')

export type RagResult = z.infer<typeof RagResultSchema>

/** POST ai/rag/query with `generate` (JSON): the passages, and an answer grounded in them. */
export const RagAnswerSchema = RagResultSchema.extend({
  answer: z.string().openapi({ description: 'The answer, citing passages as [n]' }),
  model: z.string().openapi({ description: 'The model that answered, provider:model' }),
  cited: z.array(z.number().int()).openapi({
    description:
      'The passages the answer cites, by n, in the order first cited (numbers naming no passage are left out)',
  }),
}).openapi('RagAnswer')
