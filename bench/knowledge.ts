import { loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import type postgres from 'postgres'
import { userContext } from '../shared/core/context.ts'
import { withUserStatement } from '../shared/db/with-user.ts'
import { verifyAccessToken } from '../shared/http/require-user.ts'
import { chunkText, countTokens } from '../shared/knowledge/chunking.ts'
import { getEmbedder, vectorLiteral } from '../shared/knowledge/embeddings.ts'
import { ocr, stopOcr } from '../shared/knowledge/transcribe.ts'
import { canRender, renderText } from '../tests/helpers/images.ts'
import { type Measurement, measure } from './lib.ts'
import type { BenchContext } from './run.ts'

// Knowledge: how fast the local model embeds chunks, how long hybrid retrieval (public.search_knowledge,
// as a user under RLS) takes at 10k and 100k chunks in the embedded database, how much the HNSW index
// gives up against an exact search (recall@10), and how long OCR takes for a page.
//
// The corpus is synthetic but shaped like real text: 400 sentences embedded by the real model; each
// chunk joins three of them, its vector the normalised sum of theirs plus noise, so vectors cluster as
// a real corpus's do (uniformly random vectors are the worst case for HNSW and unlike any corpus).
// `--sizes 10000,100000` (default) picks the corpus sizes; `--explain` prints, at each size, where a
// hybrid query's time goes: EXPLAIN ANALYZE of each of search_knowledge's candidate queries as the
// user (full text with all of the query, with any of it, their ranking, the vector list).

const subjects = [
  'The boiler',
  'Our garden',
  'The old car',
  'My bank account',
  'The kitchen sink',
  'The dog',
  'The spare bedroom',
  'The allotment',
  'My running shoes',
  'The tax return',
  'The roof',
  'The bicycle',
  'The freezer',
  'The front door',
  'The sourdough starter',
  'The vegetable patch',
  'The mortgage',
  'The washing machine',
  'The laptop',
  'The holiday plan',
]
const predicates = [
  'needs a service before',
  'was repaired in',
  'should be checked every',
  'costs more since',
  'is due for renewal in',
  'stopped working in',
  'was cleaned thoroughly in',
  'gets planned again for',
  'will be painted in',
  'was insured in',
]
const times = [
  'January',
  'March',
  'the spring',
  'August',
  'the autumn',
  'November',
  'the winter',
  'May',
  'the summer holidays',
  'the new year',
]

function sentences(count: number): string[] {
  const out: string[] = []
  for (let i = 0; out.length < count; i++) {
    const s = subjects[i % subjects.length]
    const p = predicates[Math.floor(i / subjects.length) % predicates.length]
    const t = times[Math.floor(i / (subjects.length * predicates.length)) % times.length]
    out.push(`${s} ${p} ${t}, note ${i}.`)
  }
  return out
}

/** A deterministic pseudo-random source (mulberry32), so runs are comparable. */
function random(seed: number) {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function unit(vector: number[]): number[] {
  const length = Math.hypot(...vector) || 1
  return vector.map((value) => value / length)
}

async function loadCorpus(
  sql: postgres.Sql,
  userId: string,
  size: number,
  base: string[],
  vectors: number[][],
) {
  const rand = random(size)
  // The model's HNSW index and the full-text GIN index are built once after the load, as a bulk
  // load would (much faster than row by row), each as its migration defines it.
  const rebuilt = await sql<Array<{ name: string; definition: string }>>`
    select indexrelid::regclass::text as name, pg_get_indexdef(indexrelid) as definition
    from pg_index
    where indexrelid in ('public.document_chunks_embedding_use_lite_idx'::regclass,
                         'public.document_chunks_search_idx'::regclass)`
  for (const { name } of rebuilt) await sql.unsafe(`drop index ${name}`)
  await sql`delete from public.documents where user_id = ${userId}`
  // The embedded database never vacuums on its own: the rows of the size before are gone, not dead.
  await sql`vacuum public.document_chunks`
  const documents = Math.max(1, Math.ceil(size / 1000))
  const ids: string[] = []
  for (let d = 0; d < documents; d++) {
    const [row] = await sql`insert into public.documents (user_id, title, status, embedding_model)
      values (${userId}, ${`Bench document ${d}`}, 'ready', 'local:use-lite') returning id`
    ids.push(row.id)
  }
  const batch = 1000
  for (let start = 0; start < size; start += batch) {
    const rows = []
    for (let i = start; i < Math.min(size, start + batch); i++) {
      const picks = [0, 1, 2].map(() => Math.floor(rand() * base.length))
      const vector = unit(
        vectors[picks[0]].map(
          (_, k) => picks.reduce((sum, p) => sum + vectors[p][k], 0) + (rand() - 0.5) * 0.05,
        ),
      )
      rows.push({
        document_id: ids[Math.floor(i / 1000)],
        chunk_index: i % 1000,
        content: picks.map((p) => base[p]).join(' '),
        embedding: vector.map((value) => Number(value.toFixed(5))),
      })
    }
    if (start % 10000 === 0) console.log(`loading: ${start} of ${size} chunks`)
    await sql`
      insert into public.document_chunks (user_id, document_id, chunk_index, content, embedding, embedding_model)
      select ${userId}, r.document_id, r.chunk_index, r.content, r.embedding::extensions.vector, 'local:use-lite'
      from jsonb_to_recordset(${sql.json(rows as never)}::jsonb)
        as r (document_id uuid, chunk_index integer, content text, embedding real[])`
  }
  // One connection, so the setting holds for the builds.
  const connection = await sql.reserve()
  const seconds: Record<string, number> = {}
  try {
    await connection.unsafe(`set maintenance_work_mem = '1GB'`)
    for (const { name, definition } of rebuilt) {
      const started = performance.now()
      await connection.unsafe(definition)
      seconds[name] = (performance.now() - started) / 1000
    }
    await connection.unsafe(`reset maintenance_work_mem`)
  } finally {
    connection.release()
  }
  await sql`analyze public.document_chunks`
  return seconds
}

/**
 * EXPLAIN ANALYZE of each query search_knowledge runs for `query` (k = 10: text lists of up to 100
 * candidates, the best 40 ranked; a vector list of 40), with its settings: the full-text
 * candidate lists as private.knowledge_text_hits runs them (as the table's owner, the caller's
 * passages by user_id), one of them as the user under RLS too (where `@@`, not leakproof, cannot
 * use the GIN index), the ranked text list, the vector list as the user; then the whole function.
 */
async function explainCandidates(
  sql: postgres.Sql,
  userId: string,
  query: string,
  vector: number[],
  size: number,
): Promise<void> {
  const claims = JSON.stringify({ sub: userId, role: 'authenticated' })
  await sql.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${claims}, true)`
    // The function's three text queries, computed as it computes them.
    const [terms] = await tx<
      Array<{ all_terms: string; every_word: string | null; any_word: string | null }>
    >`
      select q.all_terms::text, nullif(q.every_word::text, q.all_terms::text) as every_word, q.any_word
      from (
        select websearch_to_tsquery('simple', ${query}) as all_terms, plainto_tsquery('simple', w.words) as every_word,
               replace(plainto_tsquery('simple', w.words)::text, ' & ', ' | ') as any_word
        from (
          select coalesce(string_agg(t.word, ' ') filter (where to_tsvector('english', t.word) <> ''::tsvector),
                          string_agg(t.word, ' ')) as words
          from unnest(tsvector_to_array(to_tsvector('simple', ${query}))) as t (word)
        ) as w
      ) as q`
    const literal = (text: string | null) => tx.unsafe(`'${(text ?? '').replaceAll("'", "''")}'::tsquery`)
    const [all, every, any] = [terms.all_terms, terms.every_word, terms.any_word].map(literal)
    const vectorLiteralSql = tx.unsafe(`'${vectorLiteral(vector)}'::extensions.vector(512)`)
    const list = (tsquery: ReturnType<typeof literal>) =>
      tx`explain (analyze, buffers) select c.id from public.document_chunks as c
         where c.search @@ ${tsquery} and c.user_id = ${userId} limit 100`
    const asOwner: Array<readonly [string, () => PromiseLike<unknown>]> = [
      ['text, all of the query (as the owner, limit 100)', () => list(all)],
      ...(terms.every_word
        ? [['text, every word but stop words (as the owner, limit 100)', () => list(every)] as const]
        : []),
      ['text, any word (as the owner, limit 100)', () => list(any)],
    ]
    const asUser: Array<readonly [string, () => PromiseLike<unknown>]> = [
      [
        'text, every word, as the user under RLS (no GIN: @@ is not leakproof)',
        () =>
          tx`explain (analyze, buffers) select c.id from public.document_chunks as c
             where c.search @@ ${terms.every_word ? every : all} limit 100`,
      ],
      [
        'text, ranked: private.knowledge_text_hits (top 40)',
        () => tx`explain (analyze) select * from private.knowledge_text_hits(${all}, ${terms.every_word ? every : null},
               ${any}, false, 100, 40, null, null, null, null, null)`,
      ],
      [
        'vector, HNSW as the user (top 40)',
        () => tx`explain (analyze, buffers)
          select c.id from public.document_chunks as c where c.embedding_model = 'local:use-lite'
          order by c.embedding::extensions.vector(512) operator(extensions.<=>) ${vectorLiteralSql} limit 40`,
      ],
      [
        'search_knowledge, the whole function',
        () => tx`explain (analyze) select * from public.search_knowledge(${query},
             ${vectorLiteral(vector)}::extensions.vector, 'local:use-lite', 10)`,
      ],
    ]
    console.log(
      `\n== ${size} chunks, "${query}": all ${terms.all_terms}; every ${terms.every_word ?? '(the same)'}; any ${terms.any_word}`,
    )
    const print = (name: string, rows: unknown) => {
      const lines = (rows as Array<{ 'QUERY PLAN': string }>).map((row) => row['QUERY PLAN'])
      console.log(`-- ${name}: ${lines.find((line) => line.startsWith('Execution Time'))}`)
      for (const line of lines.filter((line) => !/^(Planning|Execution)/.test(line)))
        console.log(`   ${line}`)
    }
    for (const [name, statement] of asOwner) print(name, await statement())
    await tx`select set_config('role', 'authenticated', true)`
    await tx`select set_config('hnsw.ef_search', '40', true), set_config('hnsw.iterative_scan', 'relaxed_order', true)`
    for (const [name, statement] of asUser) print(name, await statement())
  })
}

/** Throughput as a measurement row: `rps` is items a second (chunks, pages). */
function rate(name: string, items: number, seconds: number, perItemMs: number[]): Measurement {
  const sorted = [...perItemMs].sort((a, b) => a - b)
  return {
    name,
    requests: items,
    concurrency: 1,
    rps: items / seconds,
    p50: sorted[Math.floor(sorted.length / 2)] ?? 0,
    p99: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0,
  }
}

export async function benchKnowledge({ sql, user }: BenchContext): Promise<Measurement[]> {
  const { values } = parseArgs({
    options: { sizes: { type: 'string' }, explain: { type: 'boolean' } },
    strict: false,
  })
  const sizes = String(values.sizes ?? '10000,100000')
    .split(',')
    .map(Number)
  const results: Measurement[] = []
  // The issue's figures, each with the load average when it was taken (2 shared cores: it matters).
  const figures: string[] = []
  const figure = (line: string) =>
    figures.push(
      `${line}  [load average ${loadavg()
        .map((n) => n.toFixed(2))
        .join(' ')}]`,
    )
  const embedder = await getEmbedder('local:use-lite')
  await embedder.embed(['warm up'])

  // Ingestion: chunks of about 200 tokens, embedded in the batches the indexer uses.
  const base = sentences(400)
  const chunks = Array.from({ length: 64 }, (_, i) => {
    let text = ''
    for (let j = 0; countTokens(text) < 190; j++) text += `${base[(i * 7 + j) % base.length]} `
    return text.trim()
  })
  let started = performance.now()
  const perBatch: number[] = []
  for (let i = 0; i < chunks.length; i += 16) {
    const t0 = performance.now()
    await embedder.embed(chunks.slice(i, i + 16))
    perBatch.push((performance.now() - t0) / 16)
  }
  const ingestion = rate(
    'ingestion: chunks/s embedded locally (200 tokens, USE-lite)',
    64,
    (performance.now() - started) / 1000,
    perBatch,
  )
  results.push(ingestion)
  figure(
    `ingestion: ${ingestion.rps.toFixed(1)} chunks/s embedded locally (USE-lite, ~200 tokens, batches of 16)`,
  )

  // Chunking, the indexer's CPU work before any model: prose, and the largest note of one repeated
  // character (11 paragraphs of 90,000), which took 12 s to chunk here before chunkText remembered
  // the counts of pieces it had counted (ADR 0032): in the ai function, under load, that was minutes
  // in which no other user's drain ran.
  const prose = Array.from({ length: 1000 }, (_, i) => base[(i * 13) % base.length]).join(' ')
  const run = Array.from({ length: 11 }, () => 'z'.repeat(90_000)).join('\n\n')
  for (const [label, text] of [
    [`prose, ${Math.round(prose.length / 1000)} kB`, prose],
    ['one character repeated, 1 MiB', run],
  ] as const) {
    const t0 = performance.now()
    const pieces = await chunkText(text, { format: 'plain' })
    const seconds = (performance.now() - t0) / 1000
    results.push(rate(`chunking: chunks/s, ${label}`, pieces.length, seconds, []))
    figure(`chunking ${label}: ${pieces.length} chunks in ${seconds.toFixed(2)} s`)
  }

  started = performance.now()
  const vectors = await embedder.embed(base)
  console.log(`embedded the 400 base sentences in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  const queries = Array.from({ length: 50 }, (_, i) => `When ${base[(i * 37) % base.length].toLowerCase()}`)
  const queryVectors = await embedder.embed(queries)
  const ctx = userContext(await verifyAccessToken(user.token))

  for (const size of sizes) {
    const build = await loadCorpus(sql, user.id, size, base, vectors)
    console.log(
      `${size} chunks loaded; indexes built in ${Object.entries(build)
        .map(([name, s]) => `${name} ${s.toFixed(1)} s`)
        .join(', ')}`,
    )
    const hybrid = await measure(
      `hybrid top-10, ${size / 1000}k chunks (search_knowledge as the user)`,
      (i) =>
        withUserStatement(
          ctx,
          (tx) => tx`select chunk_id from public.search_knowledge(${queries[i % 50]},
            ${vectorLiteral(queryVectors[i % 50])}::extensions.vector, 'local:use-lite', 10)`,
        ),
      { requests: 100, concurrency: 1, warmup: 5 },
    )
    results.push(hybrid)
    figure(
      `hybrid top-10, ${size / 1000}k chunks: p50 ${hybrid.p50.toFixed(1)} ms, p99 ${hybrid.p99.toFixed(1)} ms (one request as the user; goal at 100k: p50 < 20 ms)`,
    )
    results.push(
      await measure(
        `full text top-10 alone, ${size / 1000}k chunks (search_knowledge, no vector)`,
        (i) =>
          withUserStatement(
            ctx,
            (tx) => tx`select chunk_id from public.search_knowledge(${queries[i % 50]}, null, null, 10)`,
          ),
        { requests: 100, concurrency: 1, warmup: 5 },
      ),
    )
    if (values.explain) {
      for (const i of [0, 1, 2]) await explainCandidates(sql, user.id, queries[i], queryVectors[i], size)
    }
    results.push(
      await measure(
        `vector top-10 alone (HNSW), ${size / 1000}k chunks`,
        (i) =>
          withUserStatement(
            ctx,
            (tx) => tx`select id from public.match_document_chunks(
              ${vectorLiteral(queryVectors[i % 50])}::extensions.vector, 10, 'local:use-lite')`,
          ),
        { requests: 100, concurrency: 1, warmup: 5 },
      ),
    )
    // Recall@10: the HNSW index's top 10 against the exact top 10, same data, same queries. Once
    // through the index itself (ef_search 40 with the iterative scan, as search_knowledge sets
    // them), once through search_knowledge as the user (vector alone, the query text empty).
    const plan = await sql.begin(async (tx) => {
      await tx`set local role authenticated`
      await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: user.id, role: 'authenticated' })}, true)`
      return tx.unsafe(`explain select id from public.document_chunks where embedding_model = 'local:use-lite'
        order by embedding::extensions.vector(512) operator(extensions.<=>) '${vectorLiteral(queryVectors[0])}'::extensions.vector(512) limit 40`)
    })
    const usesIndex = plan.some((row) =>
      String(row['QUERY PLAN']).includes('document_chunks_embedding_use_lite_idx'),
    )
    console.log(
      `${size} chunks: the user's vector search ${usesIndex ? 'uses the HNSW index' : 'scans exactly (no HNSW)'}`,
    )
    let foundIndex = 0
    let foundSearch = 0
    for (const vector of queryVectors) {
      const literal = vectorLiteral(vector)
      const order = sql.unsafe(
        `embedding::extensions.vector(512) operator(extensions.<=>) '${literal}'::extensions.vector(512)`,
      )
      const [viaIndex, exact] = await sql.begin(async (tx) => {
        await tx`set local hnsw.ef_search = 40`
        await tx`set local hnsw.iterative_scan = relaxed_order`
        const approximate = await tx`
          select id from public.document_chunks where embedding_model = 'local:use-lite' order by ${order} limit 10`
        await tx`set local enable_indexscan = off`
        const truth = await tx`
          select id from public.document_chunks where embedding_model = 'local:use-lite' order by ${order} limit 10`
        return [approximate, truth]
      })
      const viaSearch = await withUserStatement(
        ctx,
        (tx) =>
          tx`select chunk_id as id from public.search_knowledge('', ${literal}::extensions.vector, 'local:use-lite', 10)`,
      )
      const truth = new Set(exact.map((row) => row.id))
      foundIndex += viaIndex.filter((row) => truth.has(row.id)).length
      foundSearch += viaSearch.filter((row) => truth.has(row.id)).length
    }
    const total = queryVectors.length * 10
    console.log(
      `recall@10 vs exact, ${size} chunks: HNSW index ${(foundIndex / total).toFixed(3)}, search_knowledge ${(foundSearch / total).toFixed(3)}`,
    )
    figure(
      `recall@10 vs exact, ${size / 1000}k chunks, ${queryVectors.length} queries: HNSW index ${(foundIndex / total).toFixed(3)}, search_knowledge ${(foundSearch / total).toFixed(3)} (goal >= 0.95)`,
    )
  }

  if (canRender) {
    const page = renderText(
      Array.from({ length: 25 }, (_, i) => `${base[i * 13]} ${base[i * 13 + 1]}`.slice(0, 70)),
    )
    await ocr(renderText(['warm up']))
    const perPage: number[] = []
    started = performance.now()
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now()
      await ocr(page)
      perPage.push(performance.now() - t0)
    }
    const pages = rate(
      'OCR: pages/s, one page of 25 lines (tesseract.js)',
      3,
      (performance.now() - started) / 1000,
      perPage,
    )
    results.push(pages)
    figure(`OCR: one page of 25 lines in ${(pages.p50 / 1000).toFixed(2)} s (median of 3, tesseract.js, eng)`)
    await stopOcr()
  } else {
    figure('OCR: not measured (ImageMagick, which renders the page, is missing)')
  }
  console.log(`\nknowledge, the figures of issue 11:\n${figures.map((line) => `  ${line}`).join('\n')}`)
  return results
}
