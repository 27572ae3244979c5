import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { setAiConfigForTests } from '../../shared/config.ts'
import { type ServiceContext, userContext } from '../../shared/core/context.ts'
import { DomainError } from '../../shared/core/errors.ts'
import { closeSql } from '../../shared/db/client.ts'
import { verifyAccessToken } from '../../shared/http/require-user.ts'
import { backgroundSettled } from '../../shared/knowledge/background.ts'
import {
  deleteDocument,
  getDocument,
  listDocuments,
  processDocument,
  reindexDocument,
} from '../../shared/knowledge/documents.ts'
import { drainKnowledge, MAX_ATTEMPTS } from '../../shared/knowledge/indexing.ts'
import { noProviders } from '../helpers/ai.ts'
import { type FakeEmbeddings, startFakeEmbeddings } from '../helpers/fake-embeddings.ts'
import { makePdf } from '../helpers/pdf.ts'
import { twoUsers } from '../helpers/stack.ts'

// The documents verbs called as a route or a tool calls them, on the real database, with the real
// local embedder (and OpenAI's through its SDK against a fake server for a model change).

const { sql, ada, bob } = twoUsers()
let fake: FakeEmbeddings
beforeAll(async () => {
  fake = await startFakeEmbeddings()
})
afterAll(async () => {
  await backgroundSettled()
  await fake.close()
  await closeSql()
})
beforeAll(() => setAiConfigForTests(noProviders()))
afterEach(() => setAiConfigForTests(noProviders()))

const as = async (user: { token: string }): Promise<ServiceContext> =>
  userContext(await verifyAccessToken(user.token))
const base64 = (bytes: Uint8Array | string) =>
  Buffer.from(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes).toString('base64')

async function failure(call: Promise<unknown>): Promise<DomainError> {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  )
  expect(error).toBeInstanceOf(DomainError)
  return error as DomainError
}

const documentsOf = async (userId: string) =>
  (await sql`select count(*)::int as count from public.documents where user_id = ${userId}`)[0]
    .count as number

/** The chunks of a document, with the text their offsets point at. */
async function chunksOf(documentId: string) {
  return sql`
    select c.chunk_index, c.content, c.heading_path, c.page, c.embedding_model, c.context,
           extensions.vector_dims(c.embedding) as dims,
           substr(d.content, c.char_start + 1, c.char_end - c.char_start) as at_offsets
    from public.document_chunks c join public.documents d on d.id = c.document_id
    where c.document_id = ${documentId} order by c.chunk_index`
}

describe('documents.process', () => {
  it('stores plain text with its checksum and makes it ready at once: chunks, vectors, offsets', async () => {
    const ctx = await as(ada)
    const text =
      'Our allotment is plot 14. The water tap is by the north gate; the shed key is under the blue pot.'
    const { document, outcome } = await processDocument({ ctx, input: { title: 'Allotment', text } })
    expect(outcome).toBe('created')
    expect(document).toMatchObject({
      title: 'Allotment',
      mime_type: 'text/plain',
      size_bytes: Buffer.byteLength(text),
      status: 'ready',
      error: null,
      embedding_model: 'local:use-lite',
      chunk_count: 1,
      user_id: ada.id,
    })
    expect(document.checksum).toMatch(/^[0-9a-f]{64}$/)
    const [chunk] = await chunksOf(document.id)
    expect(chunk).toMatchObject({
      content: text,
      at_offsets: text,
      dims: 512,
      embedding_model: 'local:use-lite',
    })
  })

  it('reads Markdown by its headings, and HTML as text with its headings (no scripts, no styles)', async () => {
    const ctx = await as(ada)
    const markdown = '# Recipes\n\n## Bread\n\nKnead for ten minutes.\n\n## Soup\n\nSimmer the leeks slowly.'
    const md = await processDocument({
      ctx,
      input: { title: 'Cookbook', text: markdown, mime_type: 'text/markdown' },
    })
    const mdChunks = await chunksOf(md.document.id)
    expect(mdChunks.map((chunk) => chunk.heading_path)).toEqual([
      ['Recipes', 'Bread'],
      ['Recipes', 'Soup'],
    ])
    expect(mdChunks.every((chunk) => chunk.at_offsets === chunk.content)).toBe(true)
    expect(mdChunks[0].context).toBe('Cookbook › Recipes › Bread')

    const html =
      '<html><head><style>p{color:red}</style><script>steal()</script></head><body>' +
      '<h1>Bike</h1><p>Pump the tyres to 4&nbsp;bar.</p><h2>Chain</h2><p>Oil it monthly.</p></body></html>'
    const page = await processDocument({
      ctx,
      input: { title: 'Bike care', content_base64: base64(html), mime_type: 'text/html; charset=utf-8' },
    })
    expect(page.document.mime_type).toBe('text/html')
    const { text } = await getDocument({ ctx, input: { id: page.document.id, include_text: true } })
    expect(text).toBe('# Bike\n\nPump the tyres to 4 bar.\n\n## Chain\n\nOil it monthly.')
    const htmlChunks = await chunksOf(page.document.id)
    expect(htmlChunks.map((chunk) => chunk.heading_path)).toEqual([['Bike'], ['Bike', 'Chain']])
  })

  it('extracts a PDF page by page; each chunk knows its page', async () => {
    const ctx = await as(ada)
    const pdf = makePdf([
      ['Boiler manual.', 'Reset the boiler by holding the red button for five seconds.'],
      ['Service the boiler every year in October.'],
    ])
    const { document } = await processDocument({
      ctx,
      input: {
        title: 'Boiler',
        content_base64: base64(pdf),
        mime_type: 'application/pdf',
        source: 'boiler.pdf',
      },
    })
    expect(document).toMatchObject({ status: 'ready', mime_type: 'application/pdf', source: 'boiler.pdf' })
    const chunks = await chunksOf(document.id)
    expect(chunks.map((chunk) => [chunk.page, chunk.content])).toEqual([
      [1, 'Boiler manual.\nReset the boiler by holding the red button for five seconds.'],
      [2, 'Service the boiler every year in October.'],
    ])
    expect(chunks.every((chunk) => chunk.at_offsets === chunk.content)).toBe(true)
  })

  it('detects the same upload by its checksum and returns the document it made', async () => {
    const ctx = await as(ada)
    const input = {
      title: 'Receipt',
      content_base64: base64('Paid 40 euros for the lawnmower.'),
      mime_type: 'text/plain',
    }
    const first = await processDocument({ ctx, input })
    const before = await documentsOf(ada.id)
    const again = await processDocument({ ctx, input: { ...input, title: 'Another title' } })
    expect(again.outcome).toBe('existing')
    expect(again.document.id).toBe(first.document.id)
    expect(again.document.title).toBe('Receipt')
    expect(await documentsOf(ada.id)).toBe(before)
    // Bob's upload of the same bytes is his own document.
    const bobs = await processDocument({ ctx: await as(bob), input })
    expect(bobs.outcome).toBe('created')
    expect(bobs.document.id).not.toBe(first.document.id)
  })

  it('refuses a wrong type (415), too large (413), a corrupt PDF and bad base64 (422), storing nothing', async () => {
    const ctx = await as(ada)
    const before = await documentsOf(ada.id)
    const cases: Array<[unknown, number, string]> = [
      [
        { title: 'Zip', content_base64: base64('PK\u0003\u0004'), mime_type: 'application/zip' },
        415,
        'unsupported_media_type',
      ],
      [{ title: 'Text as PDF', text: 'hello', mime_type: 'application/pdf' }, 415, 'unsupported_media_type'],
      [
        {
          title: 'Huge',
          content_base64: 'A'.repeat(Math.ceil(((10 * 1024 * 1024 + 1) * 4) / 3) + 4),
          mime_type: 'text/plain',
        },
        413,
        'payload_too_large',
      ],
      [{ title: 'Huge text', text: 'x'.repeat(10 * 1024 * 1024 + 1) }, 413, 'payload_too_large'],
      [
        {
          title: 'Broken',
          content_base64: base64(makePdf([['Fine']]).slice(0, 150)),
          mime_type: 'application/pdf',
        },
        422,
        'validation_failed',
      ],
      [
        { title: 'Not a PDF', content_base64: base64('just text'), mime_type: 'application/pdf' },
        422,
        'validation_failed',
      ],
      [{ title: 'Bad', content_base64: 'not base64!!', mime_type: 'text/plain' }, 422, 'validation_failed'],
      [
        {
          title: 'Latin-1',
          content_base64: base64(new Uint8Array([0x63, 0x61, 0x66, 0xe9])),
          mime_type: 'text/plain',
        },
        422,
        'validation_failed',
      ],
      [{ title: 'Blank', text: '   \n  ' }, 422, 'validation_failed'],
      [{ title: '', text: 'no title' }, 422, 'validation_failed'],
    ]
    for (const [input, status, code] of cases) {
      const error = await failure(processDocument({ ctx, input: input as never }))
      expect([error.status, error.code], JSON.stringify(input).slice(0, 80)).toEqual([status, code])
    }
    const corrupt = await failure(
      processDocument({
        ctx,
        input: {
          title: 'Broken',
          content_base64: base64(makePdf([['Fine']]).slice(0, 150)),
          mime_type: 'application/pdf',
        },
      }),
    )
    expect(corrupt.details).toEqual([{ path: 'content_base64', message: expect.stringContaining('PDF') }])
    expect(await documentsOf(ada.id)).toBe(before)
  })

  it('answers a large document at once (accepted) and finishes it in the background', async () => {
    const ctx = await as(ada)
    const text = Array.from(
      { length: 200 },
      (_, i) => `Paragraph ${i}: the orchard has ${i} apple trees and a pear tree near the wall.`,
    ).join('\n\n')
    const { document, outcome } = await processDocument({ ctx, input: { title: 'Orchard log', text } })
    expect(outcome).toBe('accepted')
    expect(['pending', 'processing']).toContain(document.status)
    await backgroundSettled()
    const done = await getDocument({ ctx, input: { id: document.id } })
    expect(done).toMatchObject({ status: 'ready', embedding_model: 'local:use-lite' })
    expect(done.chunk_count).toBeGreaterThan(16)
    const chunks = await chunksOf(document.id)
    expect(chunks.every((chunk) => chunk.at_offsets === chunk.content)).toBe(true)
  })
})

describe('documents.list, get, delete', () => {
  it('lists a user’s own documents, by status, and gets one with its chunk count and model', async () => {
    const ctx = await as(ada)
    const all = await listDocuments({ ctx, input: { limit: 100 } })
    expect(all.data.length).toBeGreaterThan(3)
    expect(all.data.every((document) => document.user_id === ada.id)).toBe(true)
    const ready = await listDocuments({ ctx, input: { status: 'ready' } })
    expect(ready.data.every((document) => document.status === 'ready')).toBe(true)
    const failed = await listDocuments({ ctx, input: { status: 'failed' } })
    expect(failed.data).toEqual([])
    const firstPage = await listDocuments({ ctx, input: { limit: '2' } as never })
    const secondPage = await listDocuments({
      ctx,
      input: { limit: 2, cursor: firstPage.next_cursor as string },
    })
    expect(secondPage.data.map((d) => d.id)).toEqual(all.data.slice(2, 4).map((d) => d.id))
    const one = await getDocument({ ctx, input: { id: all.data[0].id } })
    expect(one).toMatchObject({ id: all.data[0].id, chunk_count: all.data[0].chunk_count })
    expect(one).not.toHaveProperty('text')
    expect((await failure(listDocuments({ ctx, input: { status: 'done' } as never }))).code).toBe(
      'validation_failed',
    )
  })

  it('deletes a document with its chunks; another user’s is not found to get or delete', async () => {
    const ctx = await as(ada)
    const { document } = await processDocument({
      ctx,
      input: { title: 'Old lease', text: 'The lease ends in May.' },
    })
    const bobCtx = await as(bob)
    expect((await failure(getDocument({ ctx: bobCtx, input: { id: document.id } }))).status).toBe(404)
    expect((await failure(deleteDocument({ ctx: bobCtx, input: { id: document.id } }))).status).toBe(404)
    expect((await failure(reindexDocument({ ctx: bobCtx, input: { id: document.id } }))).status).toBe(404)
    expect((await chunksOf(document.id)).length).toBe(1)
    await deleteDocument({ ctx, input: { id: document.id } })
    expect(await chunksOf(document.id)).toEqual([])
    expect((await sql`select 1 from public.knowledge_jobs where document_id = ${document.id}`).length).toBe(0)
    expect((await failure(getDocument({ ctx, input: { id: document.id } }))).status).toBe(404)
    expect((await failure(deleteDocument({ ctx, input: { id: document.id } }))).status).toBe(404)
  })
})

describe('reindexing and failures', () => {
  it('re-embeds with a new model when it changes: reindex, or the drain for every other source', async () => {
    const ctx = await as(ada)
    const one = await processDocument({
      ctx,
      input: { title: 'Fence', text: 'Paint the fence green in spring.' },
    })
    const two = await processDocument({
      ctx,
      input: { title: 'Gutter', text: 'Clear the gutters after autumn.' },
    })
    expect(one.document.embedding_model).toBe('local:use-lite')
    setAiConfigForTests({
      ...noProviders(),
      openai: { apiKey: 'sk-test', baseUrl: fake.baseUrl },
      embeddingModel: 'openai:text-embedding-3-small',
    })
    const reindexed = await reindexDocument({ ctx, input: { id: one.document.id } })
    expect(reindexed).toMatchObject({ outcome: 'created' })
    expect(reindexed.document).toMatchObject({
      status: 'ready',
      embedding_model: 'openai:text-embedding-3-small',
    })
    expect((await chunksOf(one.document.id)).map((c) => [c.embedding_model, c.dims])).toEqual([
      ['openai:text-embedding-3-small', 384],
    ])
    // The other document still has the old model's chunks until a drain re-embeds it.
    expect((await chunksOf(two.document.id)).map((c) => c.embedding_model)).toEqual(['local:use-lite'])
    for (let round = 0; round < 10; round++) {
      if ((await drainKnowledge({ ctx, input: { limit: 50 } })).indexed === 0) break
    }
    expect((await chunksOf(two.document.id)).map((c) => c.embedding_model)).toEqual([
      'openai:text-embedding-3-small',
    ])
    const models = await sql`
      select distinct embedding_model from public.document_chunks where user_id = ${ada.id}`
    expect(models.map((row) => row.embedding_model)).toEqual(['openai:text-embedding-3-small'])
    // And back, for the tests after this one.
    setAiConfigForTests(noProviders())
    for (let round = 0; round < 10; round++) {
      if ((await drainKnowledge({ ctx, input: { limit: 50 } })).indexed === 0) break
    }
  })

  it('retries a failing embedder with the error shown, then fails the document after the last attempt', async () => {
    const ctx = await as(bob)
    setAiConfigForTests({
      ...noProviders(),
      openai: { apiKey: 'sk-test', baseUrl: fake.baseUrl },
      embeddingModel: 'openai:text-embedding-3-small',
    })
    fake.failNext(500, 100)
    const { document, outcome } = await processDocument({ ctx, input: { title: 'Flaky', text: 'Retry me.' } })
    expect(outcome).toBe('accepted')
    expect(document.status).toBe('pending')
    expect(document.error).toContain('embedding provider failed')
    for (let attempt = 2; attempt <= MAX_ATTEMPTS; attempt++) {
      await sql`update public.knowledge_jobs set run_after = now() where document_id = ${document.id}`
      const { failed } = await drainKnowledge({ ctx, input: {} })
      expect(failed).toBeGreaterThanOrEqual(1)
    }
    const final = await getDocument({ ctx, input: { id: document.id } })
    expect(final).toMatchObject({ status: 'failed', chunk_count: 0 })
    expect(final.error).toContain('embedding provider failed')
    expect((await sql`select 1 from public.knowledge_jobs where document_id = ${document.id}`).length).toBe(0)
    fake.recover()
  })

  it('never leaves a document processing: a job whose worker died is taken again, and failed after the last attempt', async () => {
    const ctx = await as(bob)
    const { document } = await processDocument({ ctx, input: { title: 'Orphan', text: 'Worker died.' } })
    // As if a worker had claimed it for the last time and died: processing, lease over.
    await sql`update public.documents set status = 'processing' where id = ${document.id}`
    await sql`
      insert into public.knowledge_jobs (user_id, document_id, attempts, locked_until)
      values (${bob.id}, ${document.id}, 1, now() - interval '1 minute')`
    await drainKnowledge({ ctx, input: {} })
    expect(await getDocument({ ctx, input: { id: document.id } })).toMatchObject({ status: 'ready' })
    await sql`update public.documents set status = 'processing' where id = ${document.id}`
    await sql`
      insert into public.knowledge_jobs (user_id, document_id, attempts, locked_until, last_error)
      values (${bob.id}, ${document.id}, ${MAX_ATTEMPTS}, now() - interval '1 minute', 'timed out')`
    await drainKnowledge({ ctx, input: {} })
    expect(await getDocument({ ctx, input: { id: document.id } })).toMatchObject({
      status: 'failed',
      error: 'timed out',
    })
  })
})
