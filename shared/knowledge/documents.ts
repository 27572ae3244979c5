import { z } from '@hono/zod-openapi'
import { NotFoundError } from '../core/errors.ts'
import { page, readCursor } from '../core/pages.ts'
import { IdInputSchema, TimestampSchema } from '../core/schemas.ts'
import { defineVerb } from '../core/verb.ts'
import type { ServiceContext } from '../core/context.ts'
import { withUser, withUserStatement } from '../db/with-user.ts'
import { CHUNK_OVERLAP_TOKENS, CHUNK_TOKENS } from './chunking.ts'
import {
  checkSize,
  decodeBase64,
  type Extracted,
  extractText,
  isImageType,
  isTextType,
  MAX_DOCUMENT_BYTES,
  normalizeMimeType,
  UnsupportedMediaTypeError,
} from './extract.ts'
import { drainInBackground, runJobs } from './indexing.ts'
import { transcribeForDocument } from './transcribe.ts'
import {
  DocumentGetSchema,
  DocumentListQuerySchema,
  DocumentProcessSchema,
  type KnowledgeDocument,
  type DocumentProcessInput,
} from './schemas.ts'

// Documents: uploaded (text, Markdown, HTML, PDF; images through transcription), stored with their
// text, type, size and checksum, then chunked and embedded — at once for a small one (201), in the
// background for a large one (202). The same bytes twice are one document. Status pending →
// processing → ready | failed, with the error.

/** Documents of at most this many chunks are embedded before the response; larger ones after it. */
export const INLINE_CHUNK_LIMIT = 16

/** About how many chunks a text makes: some 4 characters a token, chunks of 200 tokens less 40 of overlap. */
const estimateChunks = (text: string) => Math.ceil(text.length / (4 * (CHUNK_TOKENS - CHUNK_OVERLAP_TOKENS)))

const DOCUMENT_COLUMNS = `d.id, d.user_id, d.title, d.source, d.mime_type, d.size_bytes, d.checksum, d.status, d.error,
  d.embedding_model, (select count(*)::integer from public.document_chunks as c
                      where c.user_id = d.user_id and c.document_id = d.id) as chunk_count,
  d.metadata, d.processed_at, d.created_at, d.updated_at`

export interface ProcessResult {
  document: KnowledgeDocument
  outcome: 'created' | 'accepted' | 'existing'
}

/** Bytes and type of the upload: text as UTF-8, a file from base64 (422 if it is not base64). */
function bytesOf(input: DocumentProcessInput): { bytes: Uint8Array; mimeType: string } {
  const mimeType = normalizeMimeType(input.mime_type)
  if ('text' in input) {
    if (!['text/plain', 'text/markdown', 'text/html'].includes(mimeType)) {
      throw new UnsupportedMediaTypeError(
        `Text may be text/plain, text/markdown or text/html; not ${mimeType}`,
      )
    }
    const bytes = new TextEncoder().encode(input.text)
    checkSize(bytes.byteLength)
    return { bytes, mimeType }
  }
  return { bytes: decodeBase64(input.content_base64), mimeType }
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource))
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

async function readDocument(ctx: ServiceContext, id: string): Promise<KnowledgeDocument | undefined> {
  const [row] = await withUserStatement(
    ctx,
    (tx) =>
      tx<
        KnowledgeDocument[]
      >`select ${tx.unsafe(DOCUMENT_COLUMNS)} from public.documents as d where d.id = ${id}`,
    ctx.tx,
  )
  return row
}

/** Embeds the document's job now if it is small, else after the response; the document as it then is. */
async function index(
  ctx: ServiceContext,
  document: { id: string; jobId: string },
  chunkEstimate: number,
): Promise<ProcessResult> {
  if (chunkEstimate <= INLINE_CHUNK_LIMIT) {
    await runJobs(ctx, { limit: 1, ids: [document.jobId] })
  } else {
    drainInBackground(ctx)
  }
  const row = (await readDocument({ ...ctx, tx: undefined }, document.id)) as KnowledgeDocument
  return { document: row, outcome: row.status === 'ready' ? 'created' : 'accepted' }
}

/** A source's text ready to store: extracted (text types) or transcribed (images). */
async function contentOf(bytes: Uint8Array, mimeType: string): Promise<Extracted> {
  if (isTextType(mimeType)) return extractText(bytes, mimeType)
  if (isImageType(mimeType)) return transcribeForDocument(bytes, mimeType)
  throw new UnsupportedMediaTypeError(
    `Documents may be text/plain, text/markdown, text/html, application/pdf, image/png, image/jpeg or image/webp; not ${mimeType}`,
  )
}

/** An upload's bytes and what the uploader said of them: a JSON body's or a multipart form's. */
export interface DocumentUpload {
  title: string
  bytes: Uint8Array
  mimeType: string
  source?: string
  metadata: Record<string, unknown>
}

/**
 * Stores an upload as a document and indexes it. 415 for a type it cannot read, 413 past 10 MiB,
 * 422 for a file that is not what its type says or has no text: refused before anything is stored.
 * The same bytes again return the document they made (`existing`).
 */
export async function storeDocument(ctx: ServiceContext, upload: DocumentUpload): Promise<ProcessResult> {
  const { bytes } = upload
  const mimeType = normalizeMimeType(upload.mimeType)
  checkSize(bytes.byteLength)
  const checksum = await sha256(bytes)
  const [known] = await withUserStatement(
    ctx,
    (tx) => tx<Array<{ id: string }>>`select id from public.documents where checksum = ${checksum}`,
    ctx.tx,
  )
  if (known)
    return { document: (await readDocument(ctx, known.id)) as KnowledgeDocument, outcome: 'existing' }
  const content = await contentOf(bytes, mimeType)
  const estimate = estimateChunks(content.text)
  const stored = await withUser(
    ctx,
    async (tx) => {
      const [row] = await tx<Array<{ id: string }>>`
        insert into public.documents (user_id, title, source, mime_type, size_bytes, checksum, content, pages, metadata)
        values (${ctx.userId}, ${upload.title}, ${upload.source ?? null}, ${mimeType}, ${bytes.byteLength},
                ${checksum}, ${content.text}, ${content.pages ? tx.json(content.pages as never) : null},
                ${tx.json(upload.metadata as never)})
        on conflict (user_id, checksum) do nothing
        returning id`
      if (!row) return undefined
      const [job] = await tx<Array<{ id: string }>>`
        insert into public.knowledge_jobs (user_id, document_id) values (${ctx.userId}, ${row.id}) returning id`
      return { id: row.id, jobId: job.id }
    },
    ctx.tx,
  )
  if (!stored) {
    // The same bytes arrived at the same time from another request: that one's document.
    const [row] = await withUserStatement(
      ctx,
      (tx) => tx<Array<{ id: string }>>`select id from public.documents where checksum = ${checksum}`,
    )
    return { document: (await readDocument(ctx, row.id)) as KnowledgeDocument, outcome: 'existing' }
  }
  return index(ctx, stored, estimate)
}

/** documents.process: `{title, text, mime_type?}` or `{title, content_base64, mime_type}` (storeDocument). */
export const processDocument = defineVerb(
  'documents.process',
  DocumentProcessSchema,
  async ({ ctx, input }) => {
    const { bytes, mimeType } = bytesOf(input)
    return storeDocument(ctx, {
      title: input.title,
      bytes,
      mimeType,
      source: input.source,
      metadata: input.metadata,
    })
  },
)

/** Position in the list: after (created_at, id), descending. */
const ListPosition = z.tuple([TimestampSchema, z.uuid()])

export const listDocuments = defineVerb('documents.list', DocumentListQuerySchema, async ({ ctx, input }) => {
  const after = readCursor(input.cursor, ListPosition)
  const rows = await withUserStatement(
    ctx,
    (tx) => tx<KnowledgeDocument[]>`
      select ${tx.unsafe(DOCUMENT_COLUMNS)} from public.documents as d
      where d.user_id = ${ctx.userId}
        ${input.status ? tx`and d.status = ${input.status}` : tx``}
        ${after ? tx`and (d.created_at, d.id) < (${after[0]}::timestamptz, ${after[1]}::uuid)` : tx``}
      order by d.created_at desc, d.id desc
      limit ${input.limit + 1}`,
    ctx.tx,
  )
  return page(rows, input.limit, (row) => [row.created_at, row.id])
})

export const getDocument = defineVerb('documents.get', DocumentGetSchema, async ({ ctx, input }) => {
  const [row] = await withUserStatement(
    ctx,
    (tx) => tx<Array<KnowledgeDocument & { text?: string }>>`
      select ${tx.unsafe(DOCUMENT_COLUMNS)} ${input.include_text ? tx`, d.content as text` : tx``}
      from public.documents as d where d.id = ${input.id}`,
    ctx.tx,
  )
  if (!row) throw new NotFoundError('No such document')
  return row
})

/** Deletes the document; its chunks and its job go with it (foreign keys cascade). */
export const deleteDocument = defineVerb('documents.delete', IdInputSchema, async ({ ctx, input }) => {
  const deleted = await withUserStatement(
    ctx,
    (tx) => tx`delete from public.documents where id = ${input.id} returning 1`,
    ctx.tx,
  )
  if (deleted.length === 0) throw new NotFoundError('No such document')
})

/**
 * Chunks and embeds the document again, with the configured model: at once for a small one, else in
 * the background. Its old chunks answer until the new ones replace them.
 */
export const reindexDocument = defineVerb('documents.reindex', IdInputSchema, async ({ ctx, input }) => {
  const queued = await withUser(
    ctx,
    async (tx) => {
      const [document] = await tx<Array<{ content: string }>>`
        update public.documents set status = 'pending', error = null where id = ${input.id}
        returning content`
      if (!document) return undefined
      const [job] = await tx<Array<{ id: string }>>`
        insert into public.knowledge_jobs (user_id, document_id) values (${ctx.userId}, ${input.id})
        on conflict (user_id, document_id) do update
          set requested_at = clock_timestamp(), attempts = 0, run_after = now(), locked_until = null, last_error = null
        returning id`
      return { document, jobId: job.id }
    },
    ctx.tx,
  )
  if (!queued) throw new NotFoundError('No such document')
  return index(ctx, { id: input.id, jobId: queued.jobId }, estimateChunks(queued.document.content))
})

export { MAX_DOCUMENT_BYTES }
