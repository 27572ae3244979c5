import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { visionTranscriber } from '../../shared/ai/vision.ts'
import { setAiConfigForTests } from '../../shared/config.ts'
import { type ServiceContext, userContext } from '../../shared/core/context.ts'
import { DomainError } from '../../shared/core/errors.ts'
import { closeSql } from '../../shared/db/client.ts'
import { verifyAccessToken } from '../../shared/http/require-user.ts'
import { processDocument } from '../../shared/knowledge/documents.ts'
import {
  registerVisionTranscriber,
  sniffImageType,
  stopOcr,
  transcribe,
} from '../../shared/knowledge/transcribe.ts'
import { noProviders, useProviders } from '../helpers/ai.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { renderText, canRender } from '../helpers/images.ts'
import { twoUsers } from '../helpers/stack.ts'

// Transcription of generated images of known text: offline OCR (tesseract.js with the English data
// from its npm package), and a vision model through the fake OpenAI server and the real SDK.

const { sql, ada } = twoUsers()
let openai: FakeOpenAI
beforeAll(async () => {
  openai = await startFakeOpenAI()
  setAiConfigForTests(noProviders())
})
afterEach(() => {
  registerVisionTranscriber(undefined)
  setAiConfigForTests(noProviders())
})
afterAll(async () => {
  await stopOcr()
  await openai.close()
  setAiConfigForTests(undefined)
  await closeSql()
})

const as = async (): Promise<ServiceContext> => userContext(await verifyAccessToken(ada.token))
const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')
const words = (text: string) => text.toLowerCase().match(/[a-z0-9]+/g) ?? []

async function failure(call: Promise<unknown>): Promise<DomainError> {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  )
  expect(error).toBeInstanceOf(DomainError)
  return error as DomainError
}

// The images are rendered by ImageMagick, which .ci/run installs; without it this file is skipped, not passed.
describe.skipIf(!canRender)('knowledge.transcribe', () => {
  it('reads a PNG and a JPEG of known text offline, with tesseract', { timeout: 60_000 }, async () => {
    const ctx = await as()
    const lines = ['The quick brown fox', 'jumps over the lazy dog']
    for (const format of ['png', 'jpeg'] as const) {
      const image = renderText(lines, format)
      const result = await transcribe({
        ctx,
        input: { content_base64: base64(image), mime_type: `image/${format}` },
      })
      expect(result).toMatchObject({ engine: 'tesseract' })
      expect(words(result.text)).toEqual(words(lines.join(' ')))
      expect(result.confidence).toBeGreaterThan(0.8)
    }
  })

  it('makes a note of the text, and with extract_tasks its list lines a checklist of tasks', {
    timeout: 60_000,
  }, async () => {
    const ctx = await as()
    const image = renderText(['Weekend', '- buy compost', '- fix the gate'])
    const result = await transcribe({
      ctx,
      input: { content_base64: base64(image), mime_type: 'image/png', as_note: true, extract_tasks: true },
    })
    expect('note' in result && result.note.title).toBe('Weekend')
    const noteId = (result as { note: { id: string } }).note.id
    const tasks = await sql`select title from public.tasks where note_id = ${noteId} order by title`
    expect(tasks.map((task) => task.title)).toEqual(['buy compost', 'fix the gate'])
  })

  it('uses a vision model when one is configured, through the provider’s SDK', async () => {
    const ctx = await as()
    useProviders({ openai }, { defaultModel: 'openai:gpt-4.1-mini' })
    registerVisionTranscriber(visionTranscriber())
    openai.reply({ text: 'Dear diary,\n- water the ferns' })
    const image = renderText(['anything'])
    const result = await transcribe({ ctx, input: { content_base64: base64(image), mime_type: 'image/png' } })
    expect(result).toEqual({ text: 'Dear diary,\n- water the ferns', engine: 'openai:gpt-4.1-mini' })
    const sent = JSON.stringify(openai.requests.at(-1)?.body.messages)
    expect(sent).toContain(`data:image/png;base64,${base64(image).slice(0, 40)}`)
  })

  it('falls back to OCR when no vision provider is configured', { timeout: 60_000 }, async () => {
    const ctx = await as()
    registerVisionTranscriber(visionTranscriber())
    const result = await transcribe({
      ctx,
      input: { content_base64: base64(renderText(['Offline again'])), mime_type: 'image/png' },
    })
    expect(result.engine).toBe('tesseract')
    expect(words(result.text)).toEqual(['offline', 'again'])
  })

  it('refuses what is not an image (415), too large (413), undecodable (422)', async () => {
    const ctx = await as()
    const cases: Array<[unknown, number]> = [
      [{ content_base64: base64(new TextEncoder().encode('hi')), mime_type: 'text/plain' }, 415],
      [{ content_base64: base64(new TextEncoder().encode('GIF89a')), mime_type: 'image/gif' }, 415],
      [{ content_base64: 'A'.repeat(14_000_000), mime_type: 'image/png' }, 413],
      [{ content_base64: base64(new TextEncoder().encode('not a png at all')), mime_type: 'image/png' }, 422],
      [{ content_base64: base64(renderText(['x']).slice(0, 60)), mime_type: 'image/png' }, 422],
    ]
    for (const [input, status] of cases) {
      expect((await failure(transcribe({ ctx, input: input as never }))).status).toBe(status)
    }
    expect(sniffImageType(new TextEncoder().encode('RIFF\u0000\u0000\u0000\u0000WEBPVP8 '))).toBe(
      'image/webp',
    )
  })

  it('takes an image as a document: transcribed, then chunked and embedded', {
    timeout: 60_000,
  }, async () => {
    const ctx = await as()
    const { document, outcome } = await processDocument({
      ctx,
      input: {
        title: 'Photo of a page',
        content_base64: base64(renderText(['Plant garlic in October'])),
        mime_type: 'image/png',
      },
    })
    expect(outcome).toBe('created')
    expect(document).toMatchObject({ mime_type: 'image/png', status: 'ready', chunk_count: 1 })
    const [chunk] = await sql`select content from public.document_chunks where document_id = ${document.id}`
    expect(words(chunk.content)).toEqual(['plant', 'garlic', 'in', 'october'])
  })
})
