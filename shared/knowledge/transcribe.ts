import { createRequire } from 'node:module'
import { z } from '@hono/zod-openapi'
import { DomainError, ValidationError } from '../core/errors.ts'
import { FlagSchema } from '../core/schemas.ts'
import type { ServiceContext } from '../core/context.ts'
import { defineVerb } from '../core/verb.ts'
import { createNote } from '../notes/service.ts'
import {
  checkSize,
  decodeBase64,
  type Extracted,
  IMAGE_TYPES,
  isImageType,
  normalizeMimeType,
  UnsupportedMediaTypeError,
} from './extract.ts'
import { UploadFileSchema } from './schemas.ts'

// An image of text (a photo of a handwritten page, a scan) → text: a vision-capable model when the
// ai layer has registered one (it owns the providers; this layer cannot import it), else offline OCR
// with tesseract.js and the English data from @tesseract.js-data/eng, loaded from the package's
// folder (without `langPath` tesseract.js fetches from a CDN, and a failed fetch kills the process).

export interface Transcription {
  text: string
  engine: string
  confidence?: number
}

/** A vision model's transcription, as shared/ai provides it: text, and the model's name as the engine. */
export type VisionTranscriber = (image: {
  bytes: Uint8Array
  mimeType: string
}) => Promise<Transcription | undefined>

let vision: VisionTranscriber | undefined

/** The ai layer registers its vision transcriber here (undefined: none); it answers undefined when no provider can see. */
export function registerVisionTranscriber(transcriber: VisionTranscriber | undefined): void {
  vision = transcriber
}

/** The image's type by its first bytes (PNG, JPEG, WebP), or undefined. */
export function sniffImageType(bytes: Uint8Array): string | undefined {
  const starts = (...values: number[]) => values.every((value, i) => bytes[i] === value)
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png'
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg'
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to))
  if (bytes.length > 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp'
  return undefined
}

interface OcrWorker {
  recognize(image: Uint8Array): Promise<{ data: { text: string; confidence: number } }>
  terminate(): Promise<unknown>
}

let worker: Promise<OcrWorker> | undefined
let queue: Promise<unknown> = Promise.resolve()

async function startWorker(): Promise<OcrWorker> {
  const { createWorker } = await import('tesseract.js')
  const dataPackage = createRequire(import.meta.url).resolve('@tesseract.js-data/eng/package.json')
  const langPath = `${dataPackage.slice(0, dataPackage.lastIndexOf('/'))}/4.0.0_best_int`
  // OEM 1: the LSTM engine, which the best_int data is for. Without an errorHandler a job that fails
  // (an image it cannot decode) is also thrown where nothing can catch it, and the process dies;
  // with one, the job's own promise rejects and that is all.
  return (await createWorker('eng', 1, {
    langPath,
    cacheMethod: 'none',
    gzip: true,
    errorHandler: () => {},
  })) as unknown as OcrWorker
}

/** Offline OCR: one worker per process (started on first use), one image at a time. */
export async function ocr(bytes: Uint8Array): Promise<Transcription> {
  worker ??= startWorker().catch((error: unknown) => {
    worker = undefined
    throw error
  })
  const started = worker
  const run = queue.then(async () => (await started).recognize(bytes))
  queue = run.catch(() => {})
  const { data } = await run
  return { text: data.text.trim(), engine: 'tesseract', confidence: Math.round(data.confidence) / 100 }
}

/** Ends the OCR worker (tests, shutdown); the next call starts another. */
export async function stopOcr(): Promise<void> {
  const running = worker
  worker = undefined
  await (await running?.catch(() => undefined))?.terminate()
}

/** The image's text: the registered vision model if it answers, else OCR. 415 not an image, 413 too large, 422 undecodable. */
export async function transcribeImage(
  bytes: Uint8Array,
  mimeType: string,
  path = 'content_base64',
): Promise<Transcription> {
  const type = normalizeMimeType(mimeType)
  if (!isImageType(type)) {
    throw new UnsupportedMediaTypeError(`Images may be ${IMAGE_TYPES.join(', ')}; not ${type}`)
  }
  checkSize(bytes.byteLength)
  const actual = sniffImageType(bytes)
  if (!actual)
    throw new ValidationError([{ path, message: `The file is not a ${type} image that can be read` }])
  const seen = vision ? await vision({ bytes, mimeType: actual }) : undefined
  if (seen) return seen
  try {
    return await ocr(bytes)
  } catch (error) {
    if (error instanceof DomainError) throw error
    throw new ValidationError([
      {
        path,
        message: `The image could not be read: ${String((error as Error).message ?? error).slice(0, 200)}`,
      },
    ])
  }
}

/** An image upload as a document's text (documents.process). */
export async function transcribeForDocument(bytes: Uint8Array, mimeType: string): Promise<Extracted> {
  const { text } = await transcribeImage(bytes, mimeType)
  if (!text.trim())
    throw new ValidationError([{ path: 'content_base64', message: 'No text was found in the image' }])
  return { text, format: 'plain' }
}

export const TranscribeSchema = z
  .strictObject({
    content_base64: z
      .string()
      .min(1)
      .openapi({ description: 'The image, base64 (PNG, JPEG or WebP; at most 10 MiB)' }),
    mime_type: z.string().min(1).max(200),
    as_note: FlagSchema.default(false).openapi({ description: 'Also create a note from the text' }),
    extract_tasks: FlagSchema.default(false).openapi({
      description: "With as_note: the text's list lines become the note's checklist (and so tasks)",
    }),
    title: z
      .string()
      .trim()
      .max(500)
      .optional()
      .openapi({ description: "The note's title (default: the first line)" }),
  })
  .openapi('Transcribe')

/** POST ai/transcribe as `multipart/form-data`: the image as a file, and the same flags. */
export const TranscribeFormSchema = z
  .object({
    file: UploadFileSchema,
    mime_type: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: "Default: the file part's type" }),
    as_note: TranscribeSchema.shape.as_note,
    extract_tasks: TranscribeSchema.shape.extract_tasks,
    title: TranscribeSchema.shape.title,
  })
  .openapi('TranscribeUpload')

const LIST_LINE = /^\s*(?:[-*•–]|\[[ xX]?\]|☐|☑|\d+[.)])\s*(?:\[([ xX]?)\]\s*)?(.+)$/

/** The transcribed text as BlockNote blocks: list lines as checklist items (with extract_tasks), the rest as paragraphs. */
export function textBlocks(text: string, extractTasks: boolean) {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line, i) => {
      const item = extractTasks ? LIST_LINE.exec(line) : null
      return item
        ? {
            id: `transcribed-${i}`,
            type: 'checkListItem',
            props: { checked: /x/i.test(item[1] ?? '') || line.startsWith('☑') },
            content: [{ type: 'text', text: item[2].trim() }],
            children: [],
          }
        : {
            id: `transcribed-${i}`,
            type: 'paragraph',
            props: {},
            content: [{ type: 'text', text: line }],
            children: [],
          }
    })
}

/** What a transcription request asks, once its image is bytes (a JSON body's base64, or a multipart form's file). */
export interface TranscriptionRequest {
  bytes: Uint8Array
  mimeType: string
  as_note: boolean
  extract_tasks: boolean
  title?: string
}

/** The image's text, and with `as_note` the note made of it (`note`). 415, 413, 422 as transcribeImage. */
export async function transcribeUpload(ctx: ServiceContext, request: TranscriptionRequest) {
  const type = normalizeMimeType(request.mimeType)
  if (!isImageType(type))
    throw new UnsupportedMediaTypeError(`Images may be ${IMAGE_TYPES.join(', ')}; not ${type}`)
  const result = await transcribeImage(request.bytes, type)
  if (!request.as_note) return result
  const firstLine = result.text.split('\n').find((line) => line.trim()) ?? ''
  const note = await createNote({
    ctx,
    input: {
      title: (request.title || firstLine.replace(LIST_LINE, '$2')).slice(0, 500) || 'Transcription',
      content: textBlocks(result.text, request.extract_tasks),
    },
  })
  return { ...result, note }
}

/** POST ai/transcribe: `{text, engine, confidence?}`, and with `as_note` the note it made (`note`). */
export const transcribe = defineVerb('knowledge.transcribe', TranscribeSchema, async ({ ctx, input }) => {
  const type = normalizeMimeType(input.mime_type)
  if (!isImageType(type))
    throw new UnsupportedMediaTypeError(`Images may be ${IMAGE_TYPES.join(', ')}; not ${type}`)
  return transcribeUpload(ctx, { ...input, bytes: decodeBase64(input.content_base64), mimeType: type })
})
