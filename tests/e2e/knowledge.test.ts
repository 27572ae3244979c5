import { createClient, FunctionsHttpError, type SupabaseClient } from '@supabase/supabase-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startKnowledgeDrainTimer } from '../../scripts/stack/knowledge-drain-timer.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { canRender, renderText } from '../helpers/images.ts'
import { makePdf } from '../helpers/pdf.ts'
import { adminSql, stack } from '../helpers/stack.ts'
import { paddedHtml, paddedPng } from '../helpers/uploads.ts'

// Knowledge through the stack as a frontend uses it: supabase-js's functions.invoke through the
// gateway to the ai and notes functions under Deno. A document as JSON and as a form, 10 MiB through
// the gateway and 413 above it, a saved note searchable through ai/rag/query without anyone asking
// and gone once deleted, the periodic drain's timer, and transcription.

const sql = adminSql()
let client: SupabaseClient
let userId: string

beforeAll(async () => {
  client = createClient(stack.apiUrl, stack.anonKey, {
    // Node 20 has no WebSocket of its own (supabase-js makes its Realtime client up front).
    realtime: { transport: WebSocket as never },
    auth: { persistSession: false, autoRefreshToken: false },
  })
  const { data, error } = await client.auth.signUp({
    email: `knowledge-${crypto.randomUUID().slice(0, 12)}@example.test`,
    password: 'correct-horse-1',
  })
  expect(error).toBeNull()
  userId = data.user?.id as string
})
afterAll(() => sql.end())

interface Passage {
  content: string
  citation: { source: string; note_id: string | null; document_id: string | null; title: string }
}

async function search(query: string, filters: Record<string, unknown> = {}): Promise<Passage[]> {
  const { data, error } = await client.functions.invoke('ai/rag/query', { body: { query, filters } })
  expect(error).toBeNull()
  return (data as { passages: Passage[] }).passages
}

/** The response behind a supabase-js functions error, to check its envelope. */
const responseOf = (error: unknown) => {
  expect(error).toBeInstanceOf(FunctionsHttpError)
  return (error as FunctionsHttpError).context as Response
}

async function until(condition: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('not within the time allowed')
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

describe('knowledge with supabase-js through the gateway', () => {
  it('uploads a document as JSON and as a form, and answers a question from it', {
    timeout: 90_000,
  }, async () => {
    const { data: doc, error } = await client.functions.invoke('ai/documents/process', {
      body: {
        title: 'House manual',
        text: '# Heating\n\nThe boiler pressure should read 1.5 bar.',
        mime_type: 'text/markdown',
      },
    })
    expect(error).toBeNull()
    expect(doc).toMatchObject({
      title: 'House manual',
      status: 'ready',
      chunk_count: 1,
      embedding_model: 'local:use-lite',
    })
    const form = new FormData()
    form.set(
      'file',
      new File([makePdf([['The stopcock is under the kitchen sink.']]) as BlobPart], 'water.pdf', {
        type: 'application/pdf',
      }),
    )
    const uploaded = await client.functions.invoke('ai/documents/process', { body: form })
    expect(uploaded.error).toBeNull()
    expect(uploaded.data).toMatchObject({ title: 'water.pdf', mime_type: 'application/pdf', status: 'ready' })
    const [best] = await search('What should the boiler pressure be?')
    expect(best).toMatchObject({
      citation: { source: 'document', document_id: doc.id, title: 'House manual' },
    })
    expect(best.content).toContain('1.5 bar')
    const listed = await client.functions.invoke('ai/documents?status=ready', { method: 'GET' })
    expect((listed.data as { data: Array<{ id: string }> }).data.map((row) => row.id)).toEqual([
      uploaded.data.id,
      doc.id,
    ])
    // With no provider in the stack, an answer is 503, naming what to set; the passages still come.
    const generated = await client.functions.invoke('ai/rag/query', {
      body: { query: 'boiler', generate: true },
    })
    const error503 = await expectErrorEnvelope(responseOf(generated.error), 503, 'provider_unavailable')
    expect(error503.message).toContain('OPENAI_API_KEY')
  })

  it('lets 10 MiB through the gateway to the function, and answers 413 in the envelope above it', {
    timeout: 120_000,
  }, async () => {
    const page = paddedHtml(10 * 1024 * 1024, 'Loft', 'The loft hatch pole hangs in the hall cupboard.')
    const form = new FormData()
    form.set('file', new File([page as BlobPart], 'loft.html', { type: 'text/html' }))
    const accepted = await client.functions.invoke('ai/documents/process', { body: form })
    expect(accepted.error).toBeNull()
    expect(accepted.data).toMatchObject({ size_bytes: 10 * 1024 * 1024, status: 'ready' })
    const over = new FormData()
    over.set('file', new File([new Uint8Array(10 * 1024 * 1024 + 1)], 'big.txt', { type: 'text/plain' }))
    const refused = await client.functions.invoke('ai/documents/process', { body: over })
    await expectErrorEnvelope(responseOf(refused.error), 413, 'payload_too_large')
    // Past what the route reads at all: refused before the body is read whole.
    const huge = await client.functions.invoke('ai/documents/process', {
      body: { title: 'x', content_base64: 'A'.repeat(15_000_000), mime_type: 'text/plain' },
    })
    await expectErrorEnvelope(responseOf(huge.error), 413, 'payload_too_large')
    const [{ n }] =
      await sql`select count(*)::int as n from public.documents where user_id = ${userId} and title = 'x'`
    expect(n).toBe(0)
  })

  it('indexes a saved note without anyone asking: searchable soon after the save, gone once deleted', {
    timeout: 90_000,
  }, async () => {
    const { data: note, error } = await client.functions.invoke('notes', {
      body: {
        title: 'Bike lock',
        content: [
          {
            id: 'b1',
            type: 'paragraph',
            content: [{ type: 'text', text: 'The bike lock combination is 2718.' }],
          },
        ],
      },
    })
    expect(error).toBeNull()
    const noteOf = (passages: Passage[]) => passages.filter((passage) => passage.citation.note_id === note.id)
    await until(async () => noteOf(await search('bike lock combination', { sources: ['notes'] })).length > 0)
    expect(noteOf(await search('bike lock combination'))[0].content).toContain('2718')
    const deleted = await client.functions.invoke(`notes/${note.id}`, { method: 'DELETE' })
    expect(deleted.error).toBeNull()
    expect(noteOf(await search('bike lock combination'))).toEqual([])
  })

  it('the local stack’s timer drains notes that no save handed off (as pg_cron does on hosted)', {
    timeout: 90_000,
  }, async () => {
    const [note] =
      await sql`insert into public.notes (user_id, title) values (${userId}, 'Written by SQL: the spare tyre is in the boot') returning id`
    const lines: string[] = []
    const stop = startKnowledgeDrainTimer({
      apiUrl: stack.apiUrl,
      serviceRoleKey: stack.serviceRoleKey,
      intervalMs: 500,
      userIds: [userId],
      log: (line) => lines.push(line),
    })
    try {
      await until(
        async () => (await sql`select 1 from public.document_chunks where note_id = ${note.id}`).length > 0,
      )
    } finally {
      await stop()
    }
    expect(lines.some((line) => line.includes('indexing for 1 user'))).toBe(true)
    expect((await search('spare tyre boot')).some((passage) => passage.citation.note_id === note.id)).toBe(
      true,
    )
  })

  it.skipIf(!canRender)(
    'transcribes an image of 10 MiB sent as a form, offline',
    { timeout: 120_000 },
    async () => {
      const form = new FormData()
      form.set(
        'file',
        new File([paddedPng(renderText(['Buy more coffee']), 10 * 1024 * 1024) as BlobPart], 'list.png', {
          type: 'image/png',
        }),
      )
      form.set('as_note', 'true')
      const { data, error } = await client.functions.invoke('ai/transcribe', { body: form })
      expect(error).toBeNull()
      expect(data).toMatchObject({ engine: 'tesseract', note: { title: 'Buy more coffee', user_id: userId } })
      expect(data.text.toLowerCase()).toContain('coffee')
    },
  )
})
