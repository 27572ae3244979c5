import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { setAiConfigForTests } from '../../shared/config.ts'
import { type ServiceContext, userContext } from '../../shared/core/context.ts'
import { DomainError } from '../../shared/core/errors.ts'
import { closeSql } from '../../shared/db/client.ts'
import { verifyAccessToken } from '../../shared/http/require-user.ts'
import { backgroundSettled } from '../../shared/knowledge/background.ts'
import { processDocument } from '../../shared/knowledge/documents.ts'
import { drainKnowledge } from '../../shared/knowledge/indexing.ts'
import { groundedMessages, queryKnowledge } from '../../shared/knowledge/retrieval.ts'
import { createNote, deleteNote, updateNote } from '../../shared/notes/service.ts'
import { noProviders } from '../helpers/ai.ts'
import { twoUsers } from '../helpers/stack.ts'

// Notes and documents as knowledge: a note is queued when saved and indexed by the drain; rag.query
// answers from the user's own notes and documents with citations, and never from anyone else's.

const { sql, ada, bob } = twoUsers()
beforeAll(() => setAiConfigForTests(noProviders()))
afterAll(async () => {
  await backgroundSettled()
  setAiConfigForTests(undefined)
  await closeSql()
})

const as = async (user: { token: string }): Promise<ServiceContext> =>
  userContext(await verifyAccessToken(user.token))

const paragraph = (id: string, text: string) => ({ id, type: 'paragraph', content: [{ type: 'text', text }] })
const heading = (id: string, text: string, level = 1) => ({
  id,
  type: 'heading',
  props: { level },
  content: [{ type: 'text', text }],
})

async function drainAll(ctx: ServiceContext) {
  for (let round = 0; round < 10; round++) {
    if ((await drainKnowledge({ ctx, input: { limit: 50 } })).indexed === 0) return
  }
}

const noteChunks = (noteId: string) =>
  sql`select chunk_index, content, heading_path, context, embedding_model from public.document_chunks
      where note_id = ${noteId} order by chunk_index`

describe('notes are knowledge', () => {
  it('queues a note when it is saved, without indexing it in the save; the drain indexes it', async () => {
    const ctx = await as(ada)
    const note = await createNote({
      ctx,
      input: {
        title: 'Bees',
        content: [
          heading('h1', 'Hive inspection'),
          paragraph('p1', 'Check the brood frames every nine days in May.'),
        ],
      },
    })
    expect(await noteChunks(note.id)).toEqual([])
    const [job] =
      await sql`select attempts, locked_until from public.knowledge_jobs where note_id = ${note.id}`
    expect(job).toEqual({ attempts: 0, locked_until: null })
    await drainAll(ctx)
    expect(await noteChunks(note.id)).toEqual([
      {
        chunk_index: 0,
        content: '# Bees\n\n## Hive inspection\n\nCheck the brood frames every nine days in May.',
        heading_path: ['Bees', 'Hive inspection'],
        context: 'Bees › Hive inspection',
        embedding_model: 'local:use-lite',
      },
    ])
    expect((await sql`select 1 from public.knowledge_jobs where note_id = ${note.id}`).length).toBe(0)
  })

  it('re-indexes a note whose content changes, and drops its chunks when it is deleted', async () => {
    const ctx = await as(ada)
    const note = await createNote({
      ctx,
      input: { title: 'Car', content: [paragraph('c1', 'Tyres at 2.2 bar.')] },
    })
    await drainAll(ctx)
    await updateNote({
      ctx,
      input: { id: note.id, changes: { content: [paragraph('c1', 'Tyres at 2.4 bar since the new set.')] } },
    })
    await drainAll(ctx)
    expect((await noteChunks(note.id)).map((chunk) => chunk.content)).toEqual([
      '# Car\n\nTyres at 2.4 bar since the new set.',
    ])
    await deleteNote({ ctx, input: { id: note.id } })
    expect(await noteChunks(note.id)).toEqual([])
  })
})

describe('rag.query', () => {
  let adaDocument: string
  let adaNote: string
  beforeAll(async () => {
    const ctx = await as(ada)
    const { document } = await processDocument({
      ctx,
      input: {
        title: 'House manual',
        mime_type: 'text/markdown',
        text:
          '# House manual\n\n## Heating\n\nThe boiler pressure should read 1.5 bar; top it up with the grey valve.\n\n' +
          '## Water\n\nThe stopcock is under the kitchen sink, behind the bin.',
      },
    })
    adaDocument = document.id
    const note = await createNote({
      ctx,
      input: {
        title: 'Quince jam',
        content: [paragraph('q1', 'Simmer quinces with lemon for two hours until the jam turns pink.')],
      },
    })
    adaNote = note.id
    await drainAll(ctx)
    const bobCtx = await as(bob)
    await processDocument({
      ctx: bobCtx,
      input: { title: 'Bob’s secrets', text: 'The stopcock of Bob’s flat is in the hallway cupboard.' },
    })
    await createNote({
      ctx: bobCtx,
      input: { title: 'Bob’s jam', content: [paragraph('b1', 'Bob simmers quinces with lemon too.')] },
    })
    await drainAll(bobCtx)
  })

  it('answers from a user’s documents with citations that point at the passage', async () => {
    const ctx = await as(ada)
    const result = await queryKnowledge({ ctx, input: { query: 'where is the stopcock?' } })
    expect(result.embedding_model).toBe('local:use-lite')
    const [best] = result.passages
    expect(best).toMatchObject({
      n: 1,
      content: '## Water\n\nThe stopcock is under the kitchen sink, behind the bin.',
      citation: {
        source: 'document',
        document_id: adaDocument,
        note_id: null,
        title: 'House manual',
        heading_path: ['House manual', 'Water'],
        page: null,
      },
    })
    expect(best.text_rank).toBe(1)
    expect(best.vector_rank).not.toBeNull()
    const [{ text }] = await sql`
      select substr(content, ${best.citation.char_start + 1}, ${best.citation.char_end - best.citation.char_start}) as text
      from public.documents where id = ${adaDocument}`
    expect(text).toBe(best.content)
  })

  it('answers from a user’s notes too, cited by note', async () => {
    const ctx = await as(ada)
    const { passages } = await queryKnowledge({
      ctx,
      input: { query: 'how long do I simmer the quinces', k: 3 },
    })
    expect(passages[0].citation).toMatchObject({ source: 'note', note_id: adaNote, title: 'Quince jam' })
  })

  it('never returns another user’s passages, even when a filter names their sources', async () => {
    const ctx = await as(ada)
    const bobDocuments = await sql`select id from public.documents where user_id = ${bob.id}`
    const bobNotes = await sql`select id from public.notes where user_id = ${bob.id}`
    const queries = [
      { query: 'stopcock hallway cupboard Bob', k: 50 },
      { query: 'Bob simmers quinces', k: 50 },
      { query: 'stopcock', k: 50, filters: { document_ids: bobDocuments.map((row) => row.id) } },
      { query: 'quinces', k: 50, filters: { note_ids: bobNotes.map((row) => row.id), sources: ['notes'] } },
    ]
    for (const input of queries) {
      const { passages } = await queryKnowledge({ ctx, input: input as never })
      const owners = await sql`
        select distinct user_id from public.document_chunks where id = any(${passages.map((p) => p.chunk_id)}::uuid[])`
      expect(
        owners.every((row) => row.user_id === ada.id),
        JSON.stringify(input),
      ).toBe(true)
      expect(passages.some((passage) => /Bob/.test(passage.content))).toBe(false)
    }
    const crafted = await queryKnowledge({
      ctx,
      input: { query: 'stopcock', filters: { document_ids: bobDocuments.map((row) => row.id) } },
    })
    expect(crafted.passages).toEqual([])
  })

  it('filters by source, and works with full text alone when no embedder can run', async () => {
    const ctx = await as(ada)
    const notesOnly = await queryKnowledge({
      ctx,
      input: { query: 'quinces stopcock', filters: { sources: 'notes' } } as never,
    })
    expect(notesOnly.passages.every((passage) => passage.citation.source === 'note')).toBe(true)
    setAiConfigForTests({ ...noProviders(), embeddingModel: 'openai:text-embedding-3-small' })
    try {
      const textOnly = await queryKnowledge({ ctx, input: { query: 'boiler pressure' } })
      expect(textOnly.embedding_model).toBeNull()
      expect(textOnly.passages[0]).toMatchObject({ vector_rank: null, text_rank: 1 })
      expect(textOnly.passages[0].content).toContain('boiler pressure')
    } finally {
      setAiConfigForTests(noProviders())
    }
  })

  it('validates its input, and numbers passages as the grounded prompt cites them', async () => {
    const ctx = await as(ada)
    const bad = await queryKnowledge({
      ctx,
      input: { query: '', k: 500, filters: { sources: ['tasks'] } } as never,
    }).catch((error: unknown) => error)
    expect(bad).toBeInstanceOf(DomainError)
    expect((bad as DomainError).details?.map((detail) => detail.path).sort()).toEqual([
      'filters.sources.0',
      'k',
      'query',
    ])
    const { passages } = await queryKnowledge({ ctx, input: { query: 'boiler stopcock', k: 2 } })
    const [system] = groundedMessages('Where is what?', passages)
    expect(system.content).toContain(`[1] House manual › ${passages[0].citation.heading_path[1]}`)
    expect(system.content).toContain(passages[1].content)
  })
})
