import type { Context } from 'hono'
import { ValidationError } from '../../../shared/core/errors.ts'
import { MetadataSchema } from '../../../shared/core/schemas.ts'
import { parseInput } from '../../../shared/core/verb.ts'
import type { AppEnv } from '../../../shared/http/context.ts'
import type { DocumentUpload } from '../../../shared/knowledge/documents.ts'
import { checkSize, MAX_DOCUMENT_BYTES } from '../../../shared/knowledge/extract.ts'
import type { DocumentForm } from '../../../shared/knowledge/schemas.ts'

// What the upload routes (documents/process, transcribe) share: a request is JSON or a multipart
// form, and its file may be 10 MiB, which a JSON body carries as base64 (a third more).

/** The largest body an upload route reads: 10 MiB as base64, and room for the other fields. */
export const MAX_UPLOAD_BODY_BYTES = Math.ceil((MAX_DOCUMENT_BYTES * 4) / 3) + 64 * 1024

/** Whether the request is a multipart form (else it is JSON, or nothing: the JSON schema says what is wrong). */
export const isForm = (c: Context<AppEnv>) =>
  /^multipart\/form-data\b/i.test(c.req.header('content-type') ?? '')

/** The file part's bytes (413 past 10 MiB) and its type: the form's `mime_type`, else the part's own. */
export async function fileOf(file: Blob, mimeType: string | undefined) {
  checkSize(file.size)
  return {
    bytes: new Uint8Array(await file.arrayBuffer()),
    mimeType: mimeType || file.type || 'application/octet-stream',
  }
}

/** A multipart document upload as storeDocument takes it: the title and source default to the file's name. */
export async function documentUpload(form: DocumentForm): Promise<DocumentUpload> {
  const name =
    form.file instanceof File && form.file.name && form.file.name !== 'blob' ? form.file.name : undefined
  const title = form.title ?? name
  if (!title)
    throw new ValidationError([{ path: 'title', message: 'A title is required (the file has no name)' }])
  let metadata: Record<string, unknown> = {}
  if (form.metadata !== undefined) {
    let parsed: unknown
    try {
      parsed = JSON.parse(form.metadata)
    } catch {
      throw new ValidationError([{ path: 'metadata', message: 'metadata must be a JSON object' }])
    }
    metadata = parseInput(MetadataSchema, parsed) as Record<string, unknown>
  }
  const { bytes, mimeType } = await fileOf(form.file, form.mime_type)
  return { title: title.slice(0, 500), bytes, mimeType, source: form.source ?? name, metadata }
}
