import { afterAll, afterEach, beforeAll, describe, expect } from 'vitest'
import { app } from '../../functions/ai/app.ts'
import { setAiConfigForTests } from '../../shared/config.ts'
import { closeSql } from '../../shared/db/client.ts'
import { backgroundSettled } from '../../shared/knowledge/background.ts'
import { stopOcr } from '../../shared/knowledge/transcribe.ts'
import { noProviders } from '../helpers/ai.ts'
import { expectJson, type Page } from '../helpers/domain.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { type FakeEmbeddings, startFakeEmbeddings } from '../helpers/fake-embeddings.ts'
import { it } from '../helpers/fixtures.ts'
import { canRender, renderText } from '../helpers/images.ts'
import { makePdf } from '../helpers/pdf.ts'
import type { TestUser } from '../helpers/stack.ts'
import { paddedHtml } from '../helpers/uploads.ts'

// The documents routes of the ai function in process, on the real database with the real local
// embedder: every file type through POST ai/documents/process (JSON and multipart), a duplicate,
// the refusals that store nothing, a large document finishing in the background, the list, one
// document, delete and reindex (on a change of embedding model, through OpenAI's SDK to a fake).

let embeddings: FakeEmbeddings
beforeAll(async () => {
  embeddings = await startFakeEmbeddings()
  setAiConfigForTests(noProviders())
})
afterEach(async () => {
  await backgroundSettled()
  setAiConfigForTests(noProviders())
})
afterAll(async () => {
  await backgroundSettled()
  await stopOcr()
  await embeddings.close()
  setAiConfigForTests(undefined)
  await closeSql()
})

interface Document {
  id: string
  user_id: string
  title: string
  source: string | null
  mime_type: string
  size_bytes: number
  checksum: string
  status: string
  error: string | null
  embedding_model: string | null
  chunk_count: number
  text?: string
}

const base64 = (bytes: Uint8Array | string) =>
  Buffer.from(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes).toString('base64')

const request = (user: TestUser, method: string, path: string, body?: unknown) =>
  app.request(`/ai${path}`, {
    method,
    headers: {
      authorization: `Bearer ${user.token}`,
      ...(body === undefined || body instanceof FormData ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body),
  })

const upload = (user: TestUser, body: unknown) => request(user, 'POST', '/documents/process', body)

/** A multipart form with the file in `file` and the other fields as given. */
function form(file: Uint8Array, type: string, name: string, fields: Record<string, string> = {}) {
  const data = new FormData()
  data.set('file', new File([file as BlobPart], name, { type }))
  for (const [key, value] of Object.entries(fields)) data.set(key, value)
  return data
}

const documentsOf = async (sql: import('postgres').Sql, user: TestUser) =>
  (await sql`select count(*)::int as n from public.documents where user_id = ${user.id}`)[0].n as number

const chunkTexts = (sql: import('postgres').Sql, id: string) =>
  sql`select content, page, heading_path from public.document_chunks where document_id = ${id} order by chunk_index`

describe('POST ai/documents/process', () => {
  it('takes plain text and Markdown as JSON, ready at once (201), with its checksum, size and passages', async ({
    sql,
    ada,
  }) => {
    const plain = await expectJson<Document>(
      await upload(ada, { title: 'Allotment', text: 'Plot 14; the water tap is by the north gate.' }),
      201,
    )
    expect(plain).toMatchObject({
      title: 'Allotment',
      mime_type: 'text/plain',
      size_bytes: 44,
      status: 'ready',
      embedding_model: 'local:use-lite',
      chunk_count: 1,
      user_id: ada.id,
      error: null,
    })
    expect(plain.checksum).toMatch(/^[0-9a-f]{64}$/)
    const markdown = await expectJson<Document>(
      await upload(ada, {
        title: 'Cookbook',
        text: '# Bread\n\nKnead for ten minutes.\n\n# Soup\n\nSimmer the leeks.',
        mime_type: 'text/markdown',
      }),
      201,
    )
    expect((await chunkTexts(sql, markdown.id)).map((chunk) => chunk.heading_path)).toEqual([
      ['Bread'],
      ['Soup'],
    ])
  })

  it('takes HTML and PDF as base64, and every type as a multipart upload too', async ({ sql, ada }) => {
    const html = await expectJson<Document>(
      await upload(ada, {
        title: 'Bike care',
        content_base64: base64('<h1>Bike</h1><script>x()</script><p>Pump the tyres to 4 bar.</p>'),
        mime_type: 'text/html',
      }),
      201,
    )
    expect((await chunkTexts(sql, html.id)).map((chunk) => chunk.content)).toEqual([
      '# Bike\n\nPump the tyres to 4 bar.',
    ])
    const pdf = makePdf([['Boiler manual, page one.'], ['Service the boiler in October.']])
    const fromJson = await expectJson<Document>(
      await upload(ada, { title: 'Boiler', content_base64: base64(pdf), mime_type: 'application/pdf' }),
      201,
    )
    expect((await chunkTexts(sql, fromJson.id)).map((chunk) => [chunk.page, chunk.content])).toEqual([
      [1, 'Boiler manual, page one.'],
      [2, 'Service the boiler in October.'],
    ])

    // Multipart: the title and source default to the file's name, the type to the part's.
    const cases: Array<[Uint8Array, string, string, string]> = [
      [new TextEncoder().encode('Feed the cat at seven.'), 'text/plain', 'cat.txt', 'Feed the cat at seven.'],
      [
        new TextEncoder().encode('# Fish\n\nFeed the fish on Sundays.'),
        'text/markdown',
        'fish.md',
        'Sundays',
      ],
      [new TextEncoder().encode('<p>Water the ferns weekly.</p>'), 'text/html', 'ferns.html', 'ferns'],
      [makePdf([['Descale the kettle monthly.']]), 'application/pdf', 'kettle.pdf', 'kettle'],
    ]
    for (const [bytes, type, name, expected] of cases) {
      const document = await expectJson<Document>(await upload(ada, form(bytes, type, name)), 201)
      expect(document, name).toMatchObject({
        title: name,
        source: name,
        mime_type: type,
        size_bytes: bytes.byteLength,
        status: 'ready',
      })
      expect((await chunkTexts(sql, document.id))[0].content, name).toContain(expected)
    }
    // The form's fields name what the part does not: a title, a type, metadata.
    const named = await expectJson<Document & { metadata: Record<string, unknown> }>(
      await upload(
        ada,
        form(
          new TextEncoder().encode('# Keys\n\nThe spare key is with Sam.'),
          'application/octet-stream',
          'k',
          {
            title: 'Keys',
            mime_type: 'text/markdown',
            metadata: '{"room":"hall"}',
          },
        ),
      ),
      201,
    )
    expect(named).toMatchObject({ title: 'Keys', mime_type: 'text/markdown', metadata: { room: 'hall' } })
  })

  it.skipIf(!canRender)(
    'transcribes images (PNG, JPEG, WebP), as base64 and as a file, into documents',
    { timeout: 90_000 },
    async ({ sql, ada }) => {
      const lines = ['Plant garlic in October']
      const png = await expectJson<Document>(
        await upload(ada, {
          title: 'Photo',
          content_base64: base64(renderText(lines, 'png')),
          mime_type: 'image/png',
        }),
        201,
      )
      for (const format of ['jpeg', 'webp'] as const) {
        const document = await expectJson<Document>(
          await upload(ada, form(renderText(lines, format), `image/${format}`, `garlic.${format}`)),
          201,
        )
        expect(document.mime_type).toBe(`image/${format}`)
        const [chunk] = await chunkTexts(sql, document.id)
        expect(chunk.content.toLowerCase(), format).toContain('garlic')
      }
      expect(png).toMatchObject({ mime_type: 'image/png', status: 'ready', chunk_count: 1 })
    },
  )

  it('answers the same content again with the document it made (200), JSON or file, storing nothing new', async ({
    sql,
    ada,
    bob,
  }) => {
    const text = 'The recycling goes out on Tuesday evenings.'
    const first = await expectJson<Document>(await upload(ada, { title: 'Bins', text }), 201)
    const before = await documentsOf(sql, ada)
    const again = await expectJson<Document>(await upload(ada, { title: 'Bins again', text }), 200)
    expect(again).toEqual(first)
    const asFile = await expectJson<Document>(
      await upload(ada, form(new TextEncoder().encode(text), 'text/plain', 'bins.txt')),
      200,
    )
    expect(asFile.id).toBe(first.id)
    expect(await documentsOf(sql, ada)).toBe(before)
    // Another user's same bytes are their own document.
    const bobs = await expectJson<Document>(await upload(bob, { title: 'Bins', text }), 201)
    expect(bobs.id).not.toBe(first.id)
  })

  it('refuses a wrong type (415), too large (413) and unreadable (422) in the envelope, storing nothing', async ({
    sql,
    ada,
  }) => {
    const before = await documentsOf(sql, ada)
    const justOver = new Uint8Array(10 * 1024 * 1024 + 1)
    const cases: Array<[string, unknown, number, string]> = [
      [
        'a zip as base64',
        { title: 'x', content_base64: base64('PK\u0003\u0004'), mime_type: 'application/zip' },
        415,
        'unsupported_media_type',
      ],
      [
        'a PDF as text',
        { title: 'x', text: '%PDF-1.4', mime_type: 'application/pdf' },
        415,
        'unsupported_media_type',
      ],
      [
        'a zip as a file',
        form(new Uint8Array([80, 75, 3, 4]), 'application/zip', 'a.zip'),
        415,
        'unsupported_media_type',
      ],
      [
        '10 MiB and a byte, base64',
        { title: 'x', content_base64: base64(justOver), mime_type: 'text/plain' },
        413,
        'payload_too_large',
      ],
      ['10 MiB and a byte, a file', form(justOver, 'text/plain', 'big.txt'), 413, 'payload_too_large'],
      [
        'a corrupt PDF',
        { title: 'x', content_base64: base64('%PDF-1.4\nnot really'), mime_type: 'application/pdf' },
        422,
        'validation_failed',
      ],
      [
        'a corrupt PDF as a file',
        form(new TextEncoder().encode('%PDF-1.7 garbage'), 'application/pdf', 'bad.pdf'),
        422,
        'validation_failed',
      ],
      [
        'not base64',
        { title: 'x', content_base64: '***', mime_type: 'text/plain' },
        422,
        'validation_failed',
      ],
      [
        'not UTF-8',
        { title: 'x', content_base64: base64(new Uint8Array([0xff, 0xfe, 0x00])), mime_type: 'text/plain' },
        422,
        'validation_failed',
      ],
      ['no fields', {}, 422, 'validation_failed'],
      [
        'a form without a file',
        (() => {
          const data = new FormData()
          data.set('title', 'x')
          return data
        })(),
        422,
        'validation_failed',
      ],
      [
        'a file without text',
        form(new TextEncoder().encode('   \n'), 'text/plain', 'blank.txt'),
        422,
        'validation_failed',
      ],
    ]
    for (const [label, body, status, code] of cases) {
      await expectErrorEnvelope(await upload(ada, body), status, code, { label })
    }
    // A body that is neither JSON nor a form.
    await expectErrorEnvelope(
      await app.request('/ai/documents/process', {
        method: 'POST',
        headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'text/plain' },
        body: 'Just text',
      }),
      415,
      'unsupported_media_type',
    )
    // Past what an upload route reads at all (10 MiB as base64 and the fields): refused unread.
    const tooLong = JSON.stringify({
      title: 'x',
      content_base64: 'A'.repeat(14_100_000),
      mime_type: 'text/plain',
    })
    await expectErrorEnvelope(
      await app.request('/ai/documents/process', {
        method: 'POST',
        headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'application/json' },
        body: tooLong,
      }),
      413,
      'payload_too_large',
    )
    expect(await documentsOf(sql, ada)).toBe(before)
    // The other routes keep the 1 MiB limit.
    await expectErrorEnvelope(
      await request(ada, 'POST', '/rag/query', { query: 'x'.repeat(1_100_000) }),
      413,
      'payload_too_large',
    )
  })

  it('takes a file of exactly 10 MiB, as a form and as base64 in JSON', { timeout: 60_000 }, async ({
    ada,
  }) => {
    const page = paddedHtml(10 * 1024 * 1024, 'Attic', 'The attic ladder hook is behind the door.')
    const asForm = await expectJson<Document>(await upload(ada, form(page, 'text/html', 'attic.html')), 201)
    expect(asForm).toMatchObject({ size_bytes: 10 * 1024 * 1024, status: 'ready', chunk_count: 1 })
    const other = paddedHtml(10 * 1024 * 1024, 'Cellar', 'The cellar light switch is on the left.')
    const asJson = await expectJson<Document>(
      await upload(ada, { title: 'Cellar', content_base64: base64(other), mime_type: 'text/html' }),
      201,
    )
    expect(asJson).toMatchObject({ size_bytes: 10 * 1024 * 1024, status: 'ready' })
  })

  it('stores a large document at once (202) and finishes it in the background', { timeout: 120_000 }, async ({
    ada,
  }) => {
    const sections = Array.from(
      { length: 24 },
      (_, i) =>
        `## Room ${i + 1}\n\n${`Room ${i + 1} has a radiator that is bled each autumn and a window that sticks. `.repeat(8)}`,
    )
    const accepted = await expectJson<Document>(
      await upload(ada, {
        title: 'House survey',
        text: `# Survey\n\n${sections.join('\n\n')}`,
        mime_type: 'text/markdown',
      }),
      202,
    )
    expect(['pending', 'processing', 'ready']).toContain(accepted.status)
    await backgroundSettled()
    const done = await expectJson<Document>(await request(ada, 'GET', `/documents/${accepted.id}`), 200)
    expect(done).toMatchObject({ status: 'ready', embedding_model: 'local:use-lite', error: null })
    expect(done.chunk_count).toBeGreaterThan(16)
  })
  it('keeps a passage that repeats within a document once: a pasted run is a few passages, not thousands', {
    timeout: 60_000,
  }, async ({ sql, ada }) => {
    const text = `# Pasted\n\n${'z'.repeat(100_000)}\n\nThe spare key is under the mat.`
    const accepted = await expectJson<Document>(
      await upload(ada, { title: 'Blob', text, mime_type: 'text/markdown' }),
      202,
    )
    await backgroundSettled()
    const chunks = await chunkTexts(sql, accepted.id)
    const contents = chunks.map((chunk) => chunk.content)
    expect(new Set(contents).size).toBe(contents.length)
    expect(contents.length).toBeLessThan(10)
    expect(contents.at(-1)).toContain('The spare key is under the mat.')
    const done = await expectJson<Document>(await request(ada, 'GET', `/documents/${accepted.id}`), 200)
    expect(done).toMatchObject({ status: 'ready', chunk_count: contents.length })
  })
})

describe('GET ai/documents, GET/DELETE ai/documents/{id}, POST ai/documents/{id}/reindex', () => {
  it('lists a user’s documents newest first, page by page, filtered by status', async ({ sql, bob }) => {
    const ids: string[] = []
    for (const n of [1, 2, 3]) {
      ids.push(
        (await expectJson<Document>(await upload(bob, { title: `Doc ${n}`, text: `Bob's note ${n}.` }), 201))
          .id,
      )
    }
    const [failed] = await sql`
      insert into public.documents (user_id, title, checksum, status, error)
      values (${bob.id}, 'Broken', ${'f'.repeat(64)}, 'failed', 'The PDF could not be read') returning id`
    const first = await expectJson<Page<Document>>(await request(bob, 'GET', '/documents?limit=2'), 200)
    expect(first.data.map((document) => document.id)).toEqual([failed.id, ids[2]])
    const second = await expectJson<Page<Document>>(
      await request(
        bob,
        'GET',
        `/documents?limit=2&cursor=${encodeURIComponent(first.next_cursor as string)}`,
      ),
      200,
    )
    expect(second.data.map((document) => document.id).slice(0, 2)).toEqual([ids[1], ids[0]])
    const onlyFailed = await expectJson<Page<Document>>(
      await request(bob, 'GET', '/documents?status=failed'),
      200,
    )
    expect(onlyFailed.data).toEqual([
      expect.objectContaining({
        id: failed.id,
        status: 'failed',
        error: 'The PDF could not be read',
        chunk_count: 0,
      }),
    ])
    await expectErrorEnvelope(await request(bob, 'GET', '/documents?status=lost'), 422, 'validation_failed')
  })

  it('shows one document with its passage count, model and error, and its text on request', async ({
    ada,
    bob,
  }) => {
    const created = await expectJson<Document>(
      await upload(ada, { title: 'Wifi', text: 'The wifi password is on the router.' }),
      201,
    )
    const shown = await expectJson<Document>(await request(ada, 'GET', `/documents/${created.id}`), 200)
    expect(shown).toEqual(created)
    expect(shown.text).toBeUndefined()
    const withText = await expectJson<Document>(
      await request(ada, 'GET', `/documents/${created.id}?include_text=true`),
      200,
    )
    expect(withText.text).toBe('The wifi password is on the router.')
    await expectErrorEnvelope(await request(bob, 'GET', `/documents/${created.id}`), 404, 'not_found')
    await expectErrorEnvelope(await request(ada, 'GET', '/documents/not-a-uuid'), 422, 'validation_failed')
  })

  it('deletes a document with its passages (204), and 404s it afterwards and for anyone else', async ({
    sql,
    ada,
    bob,
  }) => {
    const created = await expectJson<Document>(
      await upload(ada, { title: 'Gate', text: 'The gate code is kept in the blue notebook.' }),
      201,
    )
    await expectErrorEnvelope(await request(bob, 'DELETE', `/documents/${created.id}`), 404, 'not_found')
    expect((await chunkTexts(sql, created.id)).length).toBe(1)
    const deleted = await request(ada, 'DELETE', `/documents/${created.id}`)
    expect(deleted.status).toBe(204)
    expect(await deleted.text()).toBe('')
    expect(await chunkTexts(sql, created.id)).toEqual([])
    await expectErrorEnvelope(await request(ada, 'DELETE', `/documents/${created.id}`), 404, 'not_found')
    const { passages } = await expectJson<{ passages: unknown[] }>(
      await request(ada, 'POST', '/rag/query', {
        query: 'gate code blue notebook',
        filters: { document_ids: [created.id] },
      }),
      200,
    )
    expect(passages).toEqual([])
  })

  it('reindexes with the configured model: a model change re-embeds the document (OpenAI through its SDK)', async ({
    sql,
    ada,
    bob,
  }) => {
    const created = await expectJson<Document>(
      await upload(ada, { title: 'Shed', text: 'The shed key hangs on the nail by the back door.' }),
      201,
    )
    await expectErrorEnvelope(
      await request(bob, 'POST', `/documents/${created.id}/reindex`),
      404,
      'not_found',
    )
    setAiConfigForTests({
      ...noProviders(),
      openai: { apiKey: 'test-key', baseUrl: embeddings.baseUrl },
      embeddingModel: 'openai:text-embedding-3-small',
    })
    const reindexed = await expectJson<Document>(
      await request(ada, 'POST', `/documents/${created.id}/reindex`),
      200,
    )
    expect(reindexed).toMatchObject({
      id: created.id,
      status: 'ready',
      embedding_model: 'openai:text-embedding-3-small',
      chunk_count: 1,
    })
    const [chunk] = await sql`
      select embedding_model, extensions.vector_dims(embedding) as dims from public.document_chunks
      where document_id = ${created.id}`
    expect(chunk).toEqual({ embedding_model: 'openai:text-embedding-3-small', dims: 384 })
    expect(embeddings.requests.at(-1)).toMatchObject({ model: 'text-embedding-3-small', dimensions: 384 })
    // The new model's vectors answer the new model's queries.
    const { passages, embedding_model } = await expectJson<{
      passages: Array<{ chunk_id: string; vector_rank: number | null }>
      embedding_model: string
    }>(
      await request(ada, 'POST', '/rag/query', {
        query: 'shed key nail',
        filters: { document_ids: [created.id] },
      }),
      200,
    )
    expect(embedding_model).toBe('openai:text-embedding-3-small')
    expect(passages[0].vector_rank).toBe(1)
  })
})
