import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import type postgres from 'postgres'
import { userContext } from '../shared/core/context.ts'
import { withUserStatement } from '../shared/db/with-user.ts'
import { verifyAccessToken } from '../shared/http/require-user.ts'
import { countTokens } from '../shared/knowledge/chunking.ts'
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
  await sql`delete from public.documents where user_id = ${userId}`
  const documents = Math.max(1, Math.ceil(size / 1000))
  const ids: string[] = []
  for (let d = 0; d < documents; d++) {
    const [row] = await sql`insert into public.documents (user_id, title, status, embedding_model)
      values (${userId}, ${`Bench document ${d}`}, 'ready', 'local:use-lite') returning id`
    ids.push(row.id)
  }
  // The index is built once after the load, as a bulk load would: much faster than row by row.
  await sql`drop index if exists public.document_chunks_embedding_use_lite_idx`
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
  const started = performance.now()
  await sql.unsafe(`set maintenance_work_mem = '1GB'`)
  await sql.unsafe(`create index document_chunks_embedding_use_lite_idx on public.document_chunks
    using hnsw ((embedding::extensions.vector(512)) extensions.vector_cosine_ops)
    where embedding_model = 'local:use-lite'`)
  await sql`analyze public.document_chunks`
  return (performance.now() - started) / 1000
}

/**
 * EXPLAIN ANALYZE, as the user under RLS with search_knowledge's scan settings, of each query the
 * function runs for `query` (k = 10, so lists of 40): the candidates with all of the query's words,
 * those with any of them, the ranking of both, and the vector list; then the whole function's time.
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
    await tx`select set_config('request.jwt.claims', ${claims}, true), set_config('role', 'authenticated', true)`
    await tx`select set_config('hnsw.ef_search', '100', true), set_config('hnsw.iterative_scan', 'relaxed_order', true)`
    // The function's two text queries, computed as it computes them.
    const [terms] = await tx<Array<{ all_terms: string; any_term: string | null }>>`
      select websearch_to_tsquery('simple', ${query})::text as all_terms,
             replace(plainto_tsquery('simple', coalesce(string_agg(w.word, ' ') filter (where not w.stop),
                                                       string_agg(w.word, ' ')))::text, ' & ', ' | ') as any_term
      from (select t.word, to_tsvector('english', t.word) = ''::tsvector as stop
            from unnest(tsvector_to_array(to_tsvector('simple', ${query}))) as t (word)) as w`
    const all = tx.unsafe(`'${terms.all_terms.replaceAll("'", "''")}'::tsquery`)
    const any = tx.unsafe(`'${(terms.any_term ?? '').replaceAll("'", "''")}'::tsquery`)
    const literal = tx.unsafe(`'${vectorLiteral(vector)}'::extensions.vector(512)`)
    const statements: Array<[string, ReturnType<typeof tx>]> = [
      [
        'text, all of the query (limit 1000)',
        tx`explain (analyze, buffers) select c.id from public.document_chunks as c where c.search @@ ${all} limit 1000`,
      ],
      [
        'text, any of the query (limit 1000)',
        tx`explain (analyze, buffers) select c.id from public.document_chunks as c where c.search @@ ${any} limit 1000`,
      ],
      [
        'text, ranking both (top 40)',
        tx`explain (analyze, buffers)
          select m.id from (
            (select c.id, c.search from public.document_chunks as c where c.search @@ ${all} limit 1000)
            union
            (select c.id, c.search from public.document_chunks as c where c.search @@ ${any} limit 1000)
          ) as m
          order by m.search @@ ${all} desc, ts_rank('{0.5, 0.5, 0.8, 1}'::real[], m.search, ${any}) desc, m.id limit 40`,
      ],
      [
        'vector, HNSW (top 40)',
        tx`explain (analyze, buffers)
          select c.id from public.document_chunks as c where c.embedding_model = 'local:use-lite'
          order by c.embedding::extensions.vector(512) operator(extensions.<=>) ${literal} limit 40`,
      ],
      [
        'search_knowledge, the whole function',
        tx`explain (analyze) select * from public.search_knowledge(${query},
             ${vectorLiteral(vector)}::extensions.vector, 'local:use-lite', 10)`,
      ],
    ]
    console.log(`\n== ${size} chunks, "${query}": all ${terms.all_terms}; any ${terms.any_term}`)
    for (const [name, statement] of statements) {
      const rows = (await statement) as unknown as Array<{ 'QUERY PLAN': string }>
      const lines = rows.map((row) => row['QUERY PLAN'])
      const time = lines.find((line) => line.startsWith('Execution Time'))
      console.log(`-- ${name}: ${time}`)
      for (const line of lines.filter((line) => !/^(Planning|Execution)/.test(line)))
        console.log(`   ${line}`)
    }
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
  results.push(
    rate(
      'ingestion: chunks/s embedded locally (200 tokens, USE-lite)',
      64,
      (performance.now() - started) / 1000,
      perBatch,
    ),
  )

  started = performance.now()
  const vectors = await embedder.embed(base)
  console.log(`embedded the 400 base sentences in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  const queries = Array.from({ length: 50 }, (_, i) => `When ${base[(i * 37) % base.length].toLowerCase()}`)
  const queryVectors = await embedder.embed(queries)
  const ctx = userContext(await verifyAccessToken(user.token))

  for (const size of sizes) {
    const build = await loadCorpus(sql, user.id, size, base, vectors)
    console.log(`${size} chunks loaded; HNSW index built in ${build.toFixed(1)} s`)
    results.push(
      await measure(
        `hybrid top-10, ${size / 1000}k chunks (search_knowledge as the user)`,
        (i) =>
          withUserStatement(
            ctx,
            (tx) => tx`select chunk_id from public.search_knowledge(${queries[i % 50]},
              ${vectorLiteral(queryVectors[i % 50])}::extensions.vector, 'local:use-lite', 10)`,
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
    // through the index itself (ef_search 100, as search_knowledge sets it), once through
    // search_knowledge as the user (where the planner may choose an exact scan of the user's rows).
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
        await tx`set local hnsw.ef_search = 100`
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
    results.push({
      name: `recall@10 HNSW index vs exact, ${size / 1000}k (in req/s)`,
      requests: 50,
      concurrency: 1,
      rps: foundIndex / total,
      p50: 0,
      p99: 0,
    })
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
    results.push(
      rate(
        'OCR: pages/s, one page of 25 lines (tesseract.js)',
        3,
        (performance.now() - started) / 1000,
        perPage,
      ),
    )
    await stopOcr()
  }
  return results
}
