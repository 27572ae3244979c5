import { afterAll, afterEach, beforeAll, describe, expect } from 'vitest'
import { app } from '../../functions/ai/app.ts'
import { setAiConfigForTests } from '../../shared/config.ts'
import { closeSql } from '../../shared/db/client.ts'
import { stopOcr } from '../../shared/knowledge/transcribe.ts'
import { noProviders, useProviders } from '../helpers/ai.ts'
import { expectJson } from '../helpers/domain.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { type FakeAnthropic, startFakeAnthropic } from '../helpers/fake-anthropic.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { it } from '../helpers/fixtures.ts'
import { canRender, renderText } from '../helpers/images.ts'
import type { TestUser } from '../helpers/stack.ts'
import { paddedPng } from '../helpers/uploads.ts'

// POST ai/transcribe in process, with both engines: offline OCR (tesseract.js and the English data
// from its package) and a vision model (OpenAI's and Anthropic's SDKs against the fake servers), as
// base64 in JSON and as a multipart file, with as_note and extract_tasks, and the refusals.

let openai: FakeOpenAI
let anthropic: FakeAnthropic
beforeAll(async () => {
  openai = await startFakeOpenAI()
  anthropic = await startFakeAnthropic()
  setAiConfigForTests(noProviders())
})
afterEach(() => setAiConfigForTests(noProviders()))
afterAll(async () => {
  await stopOcr()
  await openai.close()
  await anthropic.close()
  setAiConfigForTests(undefined)
  await closeSql()
})

interface Transcription {
  text: string
  engine: string
  confidence?: number
  note?: { id: string; title: string }
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')
const words = (text: string) => text.toLowerCase().match(/[a-z0-9]+/g) ?? []

const post = (user: TestUser, body: unknown) =>
  app.request('/ai/transcribe', {
    method: 'POST',
    headers: {
      authorization: `Bearer ${user.token}`,
      ...(body instanceof FormData ? {} : { 'content-type': 'application/json' }),
    },
    body: body instanceof FormData ? body : JSON.stringify(body),
  })

function imageForm(image: Uint8Array, type: string, fields: Record<string, string> = {}) {
  const data = new FormData()
  data.set('file', new File([image as BlobPart], `page.${type.split('/')[1]}`, { type }))
  for (const [key, value] of Object.entries(fields)) data.set(key, value)
  return data
}

describe.skipIf(!canRender)('POST ai/transcribe', () => {
  it('reads PNG as base64, JPEG and WebP as files, offline with tesseract (200)', {
    timeout: 90_000,
  }, async ({ ada }) => {
    const lines = ['The quick brown fox', 'jumps over the lazy dog']
    const fromJson = await expectJson<Transcription>(
      await post(ada, { content_base64: base64(renderText(lines, 'png')), mime_type: 'image/png' }),
      200,
    )
    expect(fromJson.engine).toBe('tesseract')
    expect(words(fromJson.text)).toEqual(words(lines.join(' ')))
    expect(fromJson.confidence).toBeGreaterThan(0.8)
    expect(fromJson.note).toBeUndefined()
    for (const format of ['jpeg', 'webp'] as const) {
      const fromFile = await expectJson<Transcription>(
        await post(ada, imageForm(renderText(lines, format), `image/${format}`)),
        200,
      )
      expect(fromFile.engine, format).toBe('tesseract')
      expect(words(fromFile.text), format).toEqual(words(lines.join(' ')))
    }
  })

  it('makes a note of the text with as_note (201), and with extract_tasks its list lines tasks', {
    timeout: 60_000,
  }, async ({ sql, ada }) => {
    const made = await expectJson<Transcription>(
      await post(
        ada,
        imageForm(renderText(['Weekend', '- buy compost', '- fix the gate']), 'image/png', {
          as_note: 'true',
          extract_tasks: 'true',
        }),
      ),
      201,
    )
    expect(made.note?.title).toBe('Weekend')
    const tasks =
      await sql`select title from public.tasks where note_id = ${made.note?.id ?? null} order by title`
    expect(tasks.map((task) => task.title)).toEqual(['buy compost', 'fix the gate'])
    const titled = await expectJson<Transcription>(
      await post(ada, {
        content_base64: base64(renderText(['Call the plumber'])),
        mime_type: 'image/png',
        as_note: true,
        title: 'Phone list',
      }),
      201,
    )
    const [note] = await sql`select title, user_id from public.notes where id = ${titled.note?.id ?? null}`
    expect(note).toEqual({ title: 'Phone list', user_id: ada.id })
  })

  it('uses a vision model when the default provider can see: OpenAI and Anthropic, through their SDKs', async ({
    ada,
  }) => {
    const image = renderText(['anything at all'])
    useProviders({ openai }, { defaultModel: 'openai:gpt-4.1-mini' })
    openai.reply({ text: 'Dear diary,\n- water the ferns' })
    expect(
      await expectJson<Transcription>(
        await post(ada, { content_base64: base64(image), mime_type: 'image/png' }),
        200,
      ),
    ).toEqual({ text: 'Dear diary,\n- water the ferns', engine: 'openai:gpt-4.1-mini' })
    expect(JSON.stringify(openai.requests.at(-1)?.body.messages)).toContain(
      `data:image/png;base64,${base64(image).slice(0, 40)}`,
    )

    useProviders({ anthropic }, { defaultModel: 'anthropic:claude-haiku-4-5' })
    anthropic.reply({ text: 'Shopping:\n- [ ] eggs' })
    const seen = await expectJson<Transcription>(
      await post(ada, imageForm(image, 'image/png', { as_note: 'true', extract_tasks: 'true' })),
      201,
    )
    expect(seen).toMatchObject({ text: 'Shopping:\n- [ ] eggs', engine: 'anthropic:claude-haiku-4-5' })
    expect(seen.note?.title).toBe('Shopping:')
    const sent = JSON.stringify(anthropic.requests.at(-1)?.body)
    expect(sent).toContain('"media_type":"image/png"')
  })

  it('refuses what is not an image (415), too large (413) and undecodable (422), storing nothing', async ({
    sql,
    ada,
  }) => {
    const notesBefore = (await sql`select count(*)::int as n from public.notes where user_id = ${ada.id}`)[0]
      .n
    const justOver = paddedPng(renderText(['x']), 10 * 1024 * 1024 + 1)
    const cases: Array<[string, unknown, number, string]> = [
      [
        'text',
        { content_base64: base64(new TextEncoder().encode('hi')), mime_type: 'text/plain', as_note: true },
        415,
        'unsupported_media_type',
      ],
      [
        'a GIF',
        imageForm(new TextEncoder().encode('GIF89a'), 'image/gif', { as_note: 'true' }),
        415,
        'unsupported_media_type',
      ],
      [
        '10 MiB and a byte, base64',
        { content_base64: base64(justOver), mime_type: 'image/png', as_note: true },
        413,
        'payload_too_large',
      ],
      [
        '10 MiB and a byte, a file',
        imageForm(justOver, 'image/png', { as_note: 'true' }),
        413,
        'payload_too_large',
      ],
      [
        'not a PNG',
        {
          content_base64: base64(new TextEncoder().encode('not a png')),
          mime_type: 'image/png',
          as_note: true,
        },
        422,
        'validation_failed',
      ],
      [
        'a cut PNG',
        imageForm(renderText(['x']).slice(0, 60), 'image/png', { as_note: 'true' }),
        422,
        'validation_failed',
      ],
      ['no image', { mime_type: 'image/png' }, 422, 'validation_failed'],
      [
        'a form without a file',
        (() => {
          const data = new FormData()
          data.set('as_note', 'true')
          return data
        })(),
        422,
        'validation_failed',
      ],
      [
        'a bad flag',
        imageForm(renderText(['x']), 'image/png', { as_note: 'maybe' }),
        422,
        'validation_failed',
      ],
    ]
    for (const [label, body, status, code] of cases) {
      await expectErrorEnvelope(await post(ada, body), status, code, { label })
    }
    expect((await sql`select count(*)::int as n from public.notes where user_id = ${ada.id}`)[0].n).toBe(
      notesBefore,
    )
  })

  it('reads an image of exactly 10 MiB, as a file and as base64', { timeout: 90_000 }, async ({ ada }) => {
    const image = paddedPng(renderText(['Padded page']), 10 * 1024 * 1024)
    for (const body of [
      imageForm(image, 'image/png'),
      { content_base64: base64(image), mime_type: 'image/png' },
    ]) {
      const result = await expectJson<Transcription>(await post(ada, body), 200)
      expect(words(result.text)).toEqual(['padded', 'page'])
    }
  })
})
