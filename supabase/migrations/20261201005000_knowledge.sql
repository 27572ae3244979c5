-- Knowledge: documents as uploaded (text, type, size, checksum, status with its error), passages of
-- documents and of notes with what a citation needs (heading path, page, character offsets),
-- vectors of any model at that model's own dimension (one partial HNSW index per model), a queue of
-- sources to (re)index drained in the background, and hybrid retrieval in one function that runs
-- with the caller's rights. See docs/adr/0027-embeddings-of-several-models.md and
-- docs/adr/0028-knowledge-queue-and-retrieval.md.

-- Documents -----------------------------------------------------------------------------------

alter table public.documents
  add column mime_type text not null default 'text/plain',
  add column size_bytes integer not null default 0,
  -- SHA-256 of the bytes uploaded (hex): the same upload twice is the same document.
  add column checksum text,
  -- The text extracted from the upload, which the chunks' offsets point into.
  add column content text not null default '',
  -- Why processing failed (status failed), or why the last attempt did (while it is retried).
  add column error text,
  -- The model the document's chunks are embedded with; null until it is first ready.
  add column embedding_model text,
  add column processed_at timestamptz,
  -- A paged source's pages (PDF): [{page, start, end}], where each page's text is in `content`.
  add column pages jsonb,
  add constraint documents_mime_type_length check (char_length(mime_type) between 1 and 200),
  add constraint documents_size_range check (size_bytes between 0 and 10485760),
  add constraint documents_checksum_format check (checksum ~ '^[0-9a-f]{64}$'),
  add constraint documents_content_length check (char_length(content) <= 10485760),
  add constraint documents_error_length check (char_length(error) <= 2000),
  add constraint documents_failed_has_error check (status <> 'failed' or error is not null),
  add constraint documents_ready_has_no_error check (status <> 'ready' or error is null),
  add constraint documents_embedding_model_length check (char_length(embedding_model) between 1 and 200),
  add constraint documents_pages_is_array check (jsonb_typeof(pages) = 'array'),
  add constraint documents_checksum_key unique (user_id, checksum);

-- GET ai/documents?status=…: a user's documents of one status, newest first.
create index documents_user_id_status_created_at_idx
  on public.documents (user_id, status, created_at desc, id desc);

-- Chunks of documents and of notes -------------------------------------------------------------

-- Vectors keep their model's dimension: the column is an untyped vector, and each model has a
-- partial HNSW index on its vectors cast to its dimension (below). The old index covered vector(384).
drop index public.document_chunks_embedding_idx;
alter table public.document_chunks alter column embedding type extensions.vector;

-- The full-text vector now also covers the passage's context (title and headings), weighted above
-- the passage itself; still the 'simple' configuration (ADR 0016).
alter table public.document_chunks drop column search;

alter table public.document_chunks
  alter column document_id drop not null,
  -- A chunk is a passage of a document or of a note.
  add column note_id uuid,
  -- The headings above the passage, outermost first.
  add column heading_path text[] not null default '{}',
  -- The source's title and the heading path, as searched and embedded with the passage.
  add column context text not null default '',
  -- The page the passage starts on, for sources with pages (PDF).
  add column page integer,
  -- Where the passage is in its source's text: substr(content, char_start + 1, char_end - char_start).
  add column char_start integer not null default 0,
  add column char_end integer not null default 0,
  add column token_count integer not null default 0,
  -- When the source was created (the document, or the note): what a date filter compares.
  add column source_created_at timestamptz not null default now(),
  add constraint document_chunks_note_fkey foreign key (user_id, note_id)
    references public.notes (user_id, id) on delete cascade,
  -- Leading with user_id, this also covers document_chunks_note_fkey.
  add constraint document_chunks_note_position_key unique (user_id, note_id, chunk_index),
  add constraint document_chunks_one_source check (num_nonnulls(document_id, note_id) = 1),
  add constraint document_chunks_offsets check (char_start >= 0 and char_end >= char_start),
  add constraint document_chunks_page_range check (page >= 1),
  add constraint document_chunks_context_length check (char_length(context) <= 4000),
  add constraint document_chunks_token_count_range check (token_count >= 0),
  -- The models this code knows have one dimension each; a vector of another length is a bug.
  add constraint document_chunks_embedding_dimensions check (
    case embedding_model
      when 'local:use-lite' then extensions.vector_dims(embedding) = 512
      when 'supabase:gte-small' then extensions.vector_dims(embedding) = 384
      when 'openai:text-embedding-3-small' then extensions.vector_dims(embedding) = 384
      else true
    end
  );

alter table public.document_chunks
  add column search tsvector generated always as (
    setweight(to_tsvector('simple'::regconfig, context), 'B') || to_tsvector('simple'::regconfig, content)
  ) stored;

create index document_chunks_search_idx on public.document_chunks using gin (search);

-- One HNSW index per model, on its vectors at its dimension; a query names the model and casts to
-- the same dimension (public.search_knowledge), so the planner uses that model's index only.
create index document_chunks_embedding_use_lite_idx on public.document_chunks
  using hnsw ((embedding::extensions.vector(512)) extensions.vector_cosine_ops)
  where embedding_model = 'local:use-lite';
create index document_chunks_embedding_gte_small_idx on public.document_chunks
  using hnsw ((embedding::extensions.vector(384)) extensions.vector_cosine_ops)
  where embedding_model = 'supabase:gte-small';
create index document_chunks_embedding_openai_small_idx on public.document_chunks
  using hnsw ((embedding::extensions.vector(384)) extensions.vector_cosine_ops)
  where embedding_model = 'openai:text-embedding-3-small';

-- The indexing queue ----------------------------------------------------------------------------

-- A source (a document or a note) waiting to be chunked and embedded. Saving a note queues it (the
-- triggers below); uploading or reindexing a document queues it. A worker claims a job by setting
-- locked_until (a job whose worker died is claimed again once that has passed), and deletes it when
-- done, unless the source was saved again meanwhile (requested_at moved): then it runs again.
create table public.knowledge_jobs (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  document_id uuid,
  note_id uuid,
  requested_at timestamptz not null default clock_timestamp(),
  attempts integer not null default 0,
  run_after timestamptz not null default now(),
  locked_until timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint knowledge_jobs_document_fkey foreign key (user_id, document_id)
    references public.documents (user_id, id) on delete cascade,
  constraint knowledge_jobs_note_fkey foreign key (user_id, note_id)
    references public.notes (user_id, id) on delete cascade,
  -- One job per source; leading with user_id, each covers its foreign key (and the one to auth.users).
  constraint knowledge_jobs_document_key unique (user_id, document_id),
  constraint knowledge_jobs_note_key unique (user_id, note_id),
  constraint knowledge_jobs_one_source check (num_nonnulls(document_id, note_id) = 1),
  constraint knowledge_jobs_attempts_range check (attempts >= 0),
  constraint knowledge_jobs_last_error_length check (char_length(last_error) <= 2000)
);

-- A user's jobs that are due, oldest first.
create index knowledge_jobs_user_id_run_after_idx on public.knowledge_jobs (user_id, run_after);

create trigger set_updated_at
  before update on public.knowledge_jobs
  for each row execute function public.set_updated_at();

alter table public.knowledge_jobs enable row level security;
revoke all on table public.knowledge_jobs from anon, authenticated;
grant select, insert, update, delete on table public.knowledge_jobs to authenticated;

create policy "Users can read their own knowledge jobs" on public.knowledge_jobs
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can create their own knowledge jobs" on public.knowledge_jobs
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "Users can update their own knowledge jobs" on public.knowledge_jobs
  for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "Users can delete their own knowledge jobs" on public.knowledge_jobs
  for delete to authenticated
  using ((select auth.uid()) = user_id);

-- Saving a note (a new one, or a new title or content) queues it for indexing: one row written in
-- the save's transaction, so the save stays fast; the chunking and embedding happen later. Runs
-- with the saver's rights: RLS lets a user queue only their own notes.
create function public.queue_note_indexing()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  insert into public.knowledge_jobs (user_id, note_id) values (new.user_id, new.id)
  on conflict (user_id, note_id) do update
    set requested_at = clock_timestamp(), attempts = 0, run_after = now(), locked_until = null,
        last_error = null;
  return null;
end;
$$;

create trigger queue_new_note_indexing
  after insert on public.notes
  for each row execute function public.queue_note_indexing();

create trigger queue_changed_note_indexing
  after update of title, content on public.notes
  for each row when (old.title is distinct from new.title or old.content is distinct from new.content)
  execute function public.queue_note_indexing();

-- Retrieval -------------------------------------------------------------------------------------

-- The caller's chunks nearest to `query_embedding` among those embedded by `model` (now of any
-- dimension: the query's). Kept for callers of the first schema; public.search_knowledge is the
-- retrieval the API uses.
create or replace function public.match_document_chunks(
  query_embedding extensions.vector,
  match_count integer,
  model text
)
returns table (
  id uuid,
  document_id uuid,
  chunk_index integer,
  content text,
  similarity double precision
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  dims integer := extensions.vector_dims(query_embedding);
  -- Set in the body, not in a SET clause, so postgres can define this in a fresh session (see
  -- 20261201001000); put back afterwards, as a SET clause would.
  previous_scan text := pg_catalog.current_setting('hnsw.iterative_scan', true);
begin
  perform pg_catalog.set_config('hnsw.iterative_scan', 'strict_order', true);
  return query execute pg_catalog.format(
    'select c.id, c.document_id, c.chunk_index, c.content,
            1 - (c.embedding::extensions.vector(%1$s) operator(extensions.<=>) $1::extensions.vector(%1$s))
     from public.document_chunks as c
     where c.embedding_model = %2$L and c.document_id is not null
     order by c.embedding::extensions.vector(%1$s) operator(extensions.<=>) $1::extensions.vector(%1$s)
     limit least(greatest($2, 0), 100)',
    dims, model)
  using query_embedding, match_count;
  perform pg_catalog.set_config('hnsw.iterative_scan', coalesce(nullif(previous_scan, ''), 'off'), true);
end;
$$;

-- Hybrid retrieval: the caller's passages (RLS: security invoker) that match `query_text` by full
-- text and those nearest to `query_embedding` among `embedding_model`'s vectors, fused by
-- reciprocal rank (1/(60 + rank) from each list), best first, with what a citation needs.
--
-- Full text: a passage matches if it has any of the query's words that are not English stop words
-- (or any word, if all are), in the 'simple' configuration; passages with all of the query
-- (websearch_to_tsquery: phrases and -exclusions) rank first, then by ts_rank with even weights
-- for the passage's words (context a little above): each word of the query found counts more than
-- a word found again, so a passage with more of the query's words ranks higher. A query with an
-- exclusion matches only passages that satisfy it. The cost of ranking stays bounded: at most 1000
-- passages with all of the query and 1000 with any of it are ranked (a query of words that most
-- passages have ranks a sample of those; the vector list still looks at every passage). Vector: cosine distance on the model's partial
-- HNSW index (ef_search 100; iterative scan, so rows that RLS or the filters drop do not starve it).
--
-- Filters: sources ('notes', 'documents'; null for both), document ids, note ids, and the
-- source's creation time. Each list offers up to max(4 × match_count, 40) candidates.
create function public.search_knowledge(
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
  dims integer := coalesce(extensions.vector_dims(query_embedding), 1);
  all_terms tsquery := websearch_to_tsquery('simple'::regconfig, coalesce(query_text, ''));
  words text;
  any_term tsquery;
  excludes boolean;
begin
  perform pg_catalog.set_config('hnsw.ef_search', '100', true);
  perform pg_catalog.set_config('hnsw.iterative_scan', 'relaxed_order', true);
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
    any_term := pg_catalog.replace(
      pg_catalog.plainto_tsquery('simple'::regconfig, words)::text, ' & ', ' | ')::tsquery;
  end if;
  excludes := pg_catalog.strpos(all_terms::text, '!') > 0;

  return query execute pg_catalog.format($sql$
    with text_hits as (
      select h.id, (row_number() over (order by h.all_terms desc, h.rank desc, h.id))::integer as rank
      from (
        select m.id, m.search @@ $2 as all_terms, ts_rank('{0.5, 0.5, 0.8, 1}'::real[], m.search, $3) as rank
        from (
          (select c.id, c.search from public.document_chunks as c
           where pg_catalog.numnode($2) > 0 and c.search @@ $2 and %3$s
           limit 1000)
          union
          (select c.id, c.search from public.document_chunks as c
           where $3 is not null and c.search @@ $3 and (not $4 or c.search @@ $2) and %3$s
           limit 1000)
        ) as m
        order by 2 desc, 3 desc, m.id
        limit $6
      ) as h
    ),
    vector_hits as (
      select h.id, h.distance, (row_number() over (order by h.distance, h.id))::integer as rank
      from (
        select c.id,
               c.embedding::extensions.vector(%1$s) operator(extensions.<=>) $5::extensions.vector(%1$s)
                 as distance
        from public.document_chunks as c
        where $5 is not null and c.embedding_model = %2$L and %3$s
        order by c.embedding::extensions.vector(%1$s) operator(extensions.<=>) $5::extensions.vector(%1$s)
        limit $6
      ) as h
    ),
    fused as (
      select coalesce(t.id, v.id) as id,
             coalesce(1.0 / (60 + t.rank), 0) + coalesce(1.0 / (60 + v.rank), 0) as score,
             t.rank as text_rank, v.rank as vector_rank, 1 - v.distance as similarity
      from text_hits as t full join vector_hits as v on v.id = t.id
    )
    select c.id, case when c.note_id is null then 'document' else 'note' end,
           c.document_id, c.note_id, coalesce(d.title, n.title), c.chunk_index, c.heading_path, c.page,
           c.char_start, c.char_end, c.content,
           f.score::double precision, f.text_rank, f.vector_rank, f.similarity::double precision
    from fused as f
    join public.document_chunks as c on c.id = f.id
    left join public.documents as d on d.id = c.document_id
    left join public.notes as n on n.id = c.note_id
    order by f.score desc, f.text_rank nulls last, f.vector_rank nulls last, c.id
    limit $7
  $sql$,
    dims,
    embedding_model,
    -- The filters, on both lists; $8 … $12 are null when not given.
    '($8::text[] is null or (case when c.note_id is null then ''documents'' else ''notes'' end) = any ($8))
     and ($9::uuid[] is null or c.document_id = any ($9))
     and ($10::uuid[] is null or c.note_id = any ($10))
     and ($11::timestamptz is null or c.source_created_at >= $11)
     and ($12::timestamptz is null or c.source_created_at < $12)'
  )
  using query_text, all_terms, any_term, excludes, query_embedding, pool, wanted,
        sources, document_ids, note_ids, created_after, created_before;
  perform pg_catalog.set_config('hnsw.iterative_scan', coalesce(nullif(previous_scan, ''), 'off'), true);
  perform pg_catalog.set_config('hnsw.ef_search', coalesce(nullif(previous_ef, ''), '40'), true);
end;
$$;

revoke execute on function public.search_knowledge(
  text, extensions.vector, text, integer, text[], uuid[], uuid[], timestamptz, timestamptz
) from public, anon;
grant execute on function public.search_knowledge(
  text, extensions.vector, text, integer, text[], uuid[], uuid[], timestamptz, timestamptz
) to authenticated;
