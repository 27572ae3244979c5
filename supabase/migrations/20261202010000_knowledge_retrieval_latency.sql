-- Hybrid retrieval at 100k passages in about ten milliseconds rather than hundreds
-- (docs/adr/0036-knowledge-retrieval-latency.md). public.search_knowledge keeps its signature, its
-- ranking and its isolation. Where its time went, at 100k passages in the embedded database:
--
-- * Full text never used its GIN index under RLS. `@@` (ts_match_vq) is not leakproof, so
--   PostgreSQL may not evaluate it before the row-level security policy, in an index or anywhere
--   else: every full-text list was a sequential scan of all the user's passages (60+ ms). The
--   full-text candidates now come from private.knowledge_text_hits, which runs as its owner (so the
--   GIN index serves `@@`) and selects the caller's passages itself (user_id = auth.uid(), the
--   policy's own predicate). search_knowledge still runs with the caller's rights: every passage
--   it returns is read under RLS, so an id the helper got wrong could never show another user's
--   passage.
-- * The fused list was joined back to the passages on coalesce(text id, vector id) of a full
--   join, which the planner cannot look up by index: a hash join over every passage (80+ ms). The
--   lists are now arrays, fused by grouping their union, and the passages read by primary key.
-- * The GIN index kept a pending list: rows inserted since the last vacuum, scanned in full by
--   every search. The embedded database never vacuums on its own, so the list grew to its 4 MB
--   limit. The index no longer has one (fastupdate off): an insert updates the index itself (about
--   0.5 ms more per passage, against some 80 ms to embed it locally).
-- * Each full-text candidate list was up to 1000 passages, all ranked with ts_rank; now each is
--   bounded to max(5 × k, 100) before ranking (see private.knowledge_text_hits), and a third list
--   (every word but stop words) keeps the best passages among those bounds.

alter index public.document_chunks_search_idx set (fastupdate = off);
-- What the pending list held until now goes into the index proper.
select pg_catalog.gin_clean_pending_list('public.document_chunks_search_idx'::regclass);

-- The caller's passages that match a search by full text, best first: `depth` at most from each of
-- three candidate lists, then the best `pool` of those ranked.
--
-- * all of the query (websearch_to_tsquery: its phrases, `or` and `-exclusions`), `all_terms`;
-- * every one of the query's words but English stop words, `every_word` (null when that is the
--   same query); with 'simple' parsing, stop words are in almost every passage and rarely decide
--   anything, and this list finds the passages that have all the words that matter even when
--   thousands have some of them;
-- * any of those words, `any_word` (with the query's exclusions, `excludes`, enforced).
--
-- Ranked as search_knowledge always ranked: passages with all of the query first, then by ts_rank
-- of any word (context a little above the passage), then by id. For search_knowledge only: like
-- every function in private it runs as its owner, which is what lets `@@` use the GIN index (under
-- RLS it cannot: ts_match_vq is not leakproof), so it reads only the caller's own passages, by the
-- policy's predicate, and returns only their ids.
create function private.knowledge_text_hits(
  all_terms tsquery,
  every_word tsquery,
  any_word tsquery,
  excludes boolean,
  depth integer,
  pool integer,
  sources text[],
  document_ids uuid[],
  note_ids uuid[],
  created_after timestamptz,
  created_before timestamptz
)
returns table (id uuid, rank integer)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid := auth.uid();
begin
  if caller is null then
    return;
  end if;
  -- One statement planned with these values (EXECUTE … USING): the filters not given fold away,
  -- and each list's plan fits its words (GIN for rare ones, a scan that stops early for common ones).
  return query execute pg_catalog.format($sql$
    select g.id, (row_number() over (order by g.all_terms desc, g.rank desc, g.id))::integer
    from (
      select m.id, pg_catalog.bool_or(m.all_terms) as all_terms, pg_catalog.max(m.rank) as rank
      from (
        (select c.id, true as all_terms, %2$s as rank
         from public.document_chunks as c
         where pg_catalog.numnode($1) > 0 and c.search @@ $1 and %1$s
         limit $5)
        union all
        (select c.id, c.search @@ $1, %2$s
         from public.document_chunks as c
         where $2 is not null and c.search @@ $2 and (not $4 or c.search @@ $1) and %1$s
         limit $5)
        union all
        (select c.id, c.search @@ $1, %2$s
         from public.document_chunks as c
         where $3 is not null and c.search @@ $3 and (not $4 or c.search @@ $1) and %1$s
         limit $5)
      ) as m
      group by m.id
      order by 2 desc, 3 desc, m.id
      limit $6
    ) as g
  $sql$,
    '(c.user_id = $12)
     and ($7::text[] is null or (case when c.note_id is null then ''documents'' else ''notes'' end) = any ($7))
     and ($8::uuid[] is null or c.document_id = any ($8))
     and ($9::uuid[] is null or c.note_id = any ($9))
     and ($10::timestamptz is null or c.source_created_at >= $10)
     and ($11::timestamptz is null or c.source_created_at < $11)',
    $r$pg_catalog.ts_rank('{0.5, 0.5, 0.8, 1}'::real[], c.search, $3)$r$
  )
  using all_terms, every_word, any_word, excludes, depth, pool,
        sources, document_ids, note_ids, created_after, created_before, caller;
end;
$$;

revoke all on function private.knowledge_text_hits(
  tsquery, tsquery, tsquery, boolean, integer, integer, text[], uuid[], uuid[], timestamptz, timestamptz
) from public, anon;
grant execute on function private.knowledge_text_hits(
  tsquery, tsquery, tsquery, boolean, integer, integer, text[], uuid[], uuid[], timestamptz, timestamptz
) to authenticated;

-- Hybrid retrieval, as 20261201005000 describes it: the caller's passages (RLS: security invoker)
-- that match `query_text` by full text and those nearest to `query_embedding` among
-- `embedding_model`'s vectors, fused by reciprocal rank (1/(60 + rank) from each list), best
-- first, with what a citation needs. Each list offers up to max(4 × match_count, 40) candidates.
--
-- Full text: private.knowledge_text_hits (above). Vector: cosine distance on the model's partial
-- HNSW index (ef_search 40, pgvector's default, where it was 100: recall@10 against an exact search
-- stays 1.000 on the bench's 100k passages and the scan costs less; iterative scan, so rows that
-- RLS or the filters drop do not starve it), one statement built with `format` so the model's
-- index is the one used. Both lists are taken first, as arrays; the best k of their fusion are
-- then read by primary key, under RLS.
create or replace function public.search_knowledge(
  query_text text,
  query_embedding extensions.vector default null,
  embedding_model text default null,
  match_count integer default 10,
  sources text[] default null,
  document_ids uuid[] default null,
  note_ids uuid[] default null,
  created_after timestamptz default null,
  created_before timestamptz default null
)
returns table (
  chunk_id uuid,
  source text,
  document_id uuid,
  note_id uuid,
  title text,
  chunk_index integer,
  heading_path text[],
  page integer,
  char_start integer,
  char_end integer,
  content text,
  score double precision,
  text_rank integer,
  vector_rank integer,
  similarity double precision
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  -- The index scan's settings, set in the body (not a SET clause: see 20261201001000) and put back.
  previous_scan text := pg_catalog.current_setting('hnsw.iterative_scan', true);
  previous_ef text := pg_catalog.current_setting('hnsw.ef_search', true);
  wanted integer := least(greatest(coalesce(match_count, 10), 1), 50);
  pool integer := greatest(least(greatest(coalesce(match_count, 10), 1), 50) * 4, 40);
  depth integer := greatest(least(greatest(coalesce(match_count, 10), 1), 50) * 5, 100);
  dims integer := coalesce(extensions.vector_dims(query_embedding), 1);
  all_terms tsquery := websearch_to_tsquery('simple'::regconfig, coalesce(query_text, ''));
  words text;
  any_word tsquery;
  every_word tsquery;
  text_ids uuid[] := '{}';
  vector_ids uuid[] := '{}';
  vector_distances double precision[] := '{}';
begin
  if (query_embedding is null) <> (embedding_model is null) then
    raise exception 'query_embedding and embedding_model are given together'
      using errcode = 'invalid_parameter_value';
  end if;

  -- The query's words, less English stop words when others remain, any of which makes a match:
  -- plainto_tsquery quotes them, and its ANDs become ORs (its lexemes hold no spaces).
  select coalesce(
           pg_catalog.string_agg(w.word, ' ') filter (where not w.stop),
           pg_catalog.string_agg(w.word, ' ')
         )
    into words
    from (
      select t.word, pg_catalog.to_tsvector('english'::regconfig, t.word) = ''::tsvector as stop
      from pg_catalog.unnest(pg_catalog.tsvector_to_array(
             pg_catalog.to_tsvector('simple'::regconfig, coalesce(query_text, '')))) as t (word)
    ) as w;
  if words is not null then
    every_word := pg_catalog.plainto_tsquery('simple'::regconfig, words);
    any_word := pg_catalog.replace(every_word::text, ' & ', ' | ')::tsquery;
    -- A list of its own only when it is another query than all of the query, and than any word.
    if every_word::text = all_terms::text or every_word::text = any_word::text then
      every_word := null;
    end if;
  end if;

  if pg_catalog.numnode(all_terms) > 0 or any_word is not null then
    select coalesce(pg_catalog.array_agg(h.id order by h.rank), '{}')
      into text_ids
      from private.knowledge_text_hits(
        all_terms, every_word, any_word, pg_catalog.strpos(all_terms::text, '!') > 0, depth, pool,
        sources, document_ids, note_ids, created_after, created_before) as h;
  end if;

  if query_embedding is not null then
    perform pg_catalog.set_config('hnsw.ef_search', '40', true);
    perform pg_catalog.set_config('hnsw.iterative_scan', 'relaxed_order', true);
    execute pg_catalog.format($sql$
      select coalesce(pg_catalog.array_agg(h.id order by h.distance, h.id), '{}'),
             coalesce(pg_catalog.array_agg(h.distance order by h.distance, h.id), '{}')
      from (
        select c.id,
               c.embedding::extensions.vector(%1$s) operator(extensions.<=>) $1::extensions.vector(%1$s)
                 as distance
        from public.document_chunks as c
        where c.embedding_model = %2$L
          and ($3::text[] is null or (case when c.note_id is null then 'documents' else 'notes' end) = any ($3))
          and ($4::uuid[] is null or c.document_id = any ($4))
          and ($5::uuid[] is null or c.note_id = any ($5))
          and ($6::timestamptz is null or c.source_created_at >= $6)
          and ($7::timestamptz is null or c.source_created_at < $7)
        order by c.embedding::extensions.vector(%1$s) operator(extensions.<=>) $1::extensions.vector(%1$s)
        limit $2
      ) as h
    $sql$, dims, embedding_model)
      into vector_ids, vector_distances
      using query_embedding, pool, sources, document_ids, note_ids, created_after, created_before;
    perform pg_catalog.set_config('hnsw.iterative_scan', coalesce(nullif(previous_scan, ''), 'off'), true);
    perform pg_catalog.set_config('hnsw.ef_search', coalesce(nullif(previous_ef, ''), '40'), true);
  end if;

  return query
    with hits as (
      select t.id, t.n::integer as text_rank, null::integer as vector_rank, null::double precision as distance
      from pg_catalog.unnest(text_ids) with ordinality as t (id, n)
      union all
      select v.id, null, v.n::integer, v.distance
      from rows from (pg_catalog.unnest(vector_ids), pg_catalog.unnest(vector_distances))
        with ordinality as v (id, distance, n)
    ),
    fused as (
      select h.id,
             pg_catalog.sum(1.0 / (60 + coalesce(h.text_rank, h.vector_rank))) as score,
             pg_catalog.min(h.text_rank) as text_rank, pg_catalog.min(h.vector_rank) as vector_rank,
             1 - pg_catalog.min(h.distance) as similarity
      from hits as h
      group by h.id
      -- As the result is ordered (positions: these names are also the function's columns).
      order by 2 desc, 3 nulls last, 4 nulls last, 1
      limit wanted
    )
    select c.id, case when c.note_id is null then 'document' else 'note' end,
           c.document_id, c.note_id, coalesce(d.title, n.title), c.chunk_index, c.heading_path, c.page,
           c.char_start, c.char_end, c.content,
           f.score::double precision, f.text_rank, f.vector_rank, f.similarity
    from fused as f
    join public.document_chunks as c on c.id = f.id
    left join public.documents as d on d.id = c.document_id
    left join public.notes as n on n.id = c.note_id
    order by f.score desc, f.text_rank nulls last, f.vector_rank nulls last, c.id;
end;
$$;
