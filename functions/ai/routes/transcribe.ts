import { z } from '@hono/zod-openapi'
import type { App } from '../../../shared/http/app.ts'
import { serviceContext } from '../../../shared/http/context.ts'
import { errorResponse } from '../../../shared/http/openapi.ts'
import { jsonResponse, userRoute } from '../../../shared/http/routes.ts'
import {
  TranscribeFormSchema,
  TranscribeSchema,
  transcribe,
  transcribeUpload,
} from '../../../shared/knowledge/transcribe.ts'
import { NoteSchema } from '../../../shared/notes/schemas.ts'
import { fileOf, isForm } from './uploads.ts'

export const TranscriptionSchema = z
  .object({
    text: z.string(),
    engine: z
      .string()
      .openapi({ description: 'The vision model (`provider:model`) or `tesseract` (offline OCR)' }),
    confidence: z.number().optional().openapi({ description: 'OCR only: 0 to 1' }),
    note: NoteSchema.optional().openapi({ description: 'With as_note: the note made of the text' }),
  })
  .openapi('Transcription')

export const route = userRoute({
  method: 'post',
  path: '/transcribe',
  summary: 'The text of an image (a photo of a handwritten page, a scan), and with as_note a note of it',
  description:
    'JSON `{content_base64, mime_type, as_note?, extract_tasks?, title?}` or a `multipart/form-data` upload ' +
    'with the image in `file`: PNG, JPEG or WebP, at most 10 MiB. A vision model reads it when the default ' +
    'model is OpenAI’s or Anthropic’s; otherwise offline OCR (tesseract). `as_note` also makes a note of the ' +
    'text (201), and `extract_tasks` its list lines the note’s checklist, and so tasks.',
  request: {
    body: {
      required: false,
      content: {
        'application/json': { schema: TranscribeSchema },
        'multipart/form-data': { schema: TranscribeFormSchema },
      },
    },
  },
  responses: {
    200: jsonResponse('The text', TranscriptionSchema),
    201: jsonResponse('The text, and the note made of it (as_note)', TranscriptionSchema),
    413: errorResponse(413, 'The image is larger than 10 MiB (payload_too_large)'),
    415: errorResponse(415, 'Not a PNG, JPEG or WebP image (unsupported_media_type)'),
    422: errorResponse(
      422,
      'A field is missing or wrong, or the image cannot be decoded (validation_failed)',
    ),
  },
})

export function register(app: App): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c)
    let result: z.infer<typeof TranscriptionSchema>
    if (isForm(c)) {
      const form = c.req.valid('form') as z.infer<typeof TranscribeFormSchema>
      result = await transcribeUpload(ctx, { ...form, ...(await fileOf(form.file, form.mime_type)) })
    } else {
      // Validated here (the body is optional to the router, which lets a form through): `{}` is a 422.
      result = await transcribe({ ctx, input: c.req.valid('json') as z.input<typeof TranscribeSchema> })
    }
    return c.json(result, result.note ? 201 : 200)
  })
}
