-- Documents for retrieval: each split into chunks with a full-text vector and an embedding.

create table public.documents (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null,
  -- Where the text came from: a file name, a URL, or the note it was taken from.
  source text,
  status public.document_status not null default 'pending',
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint documents_user_id_id_key unique (user_id, id),
  constraint documents_title_length check (char_length(title) between 1 and 500),
  constraint documents_source_length check (char_length(source) <= 2048),
  constraint documents_metadata_is_object check (jsonb_typeof(metadata) = 'object')
);

create index documents_user_id_created_at_idx on public.documents (user_id, created_at desc, id desc);

create trigger set_updated_at
  before update on public.documents
  for each row execute function public.set_updated_at();

create table public.document_chunks (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  document_id uuid not null,
  chunk_index integer not null,
  content text not null,
  fts tsvector generated always as (to_tsvector('english', content)) stored,
  -- 384 dimensions: gte-small (Supabase's built-in model) and its peers.
  embedding extensions.vector(384),
  -- Embeddings of different models are not comparable; search matches on this.
  embedding_model text,
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- A chunk belongs to a document of the same user, and goes with it.
  constraint document_chunks_document_fkey foreign key (user_id, document_id)
    references public.documents (user_id, id) on delete cascade,
  -- One chunk per position; as a document has one user, leading with user_id changes nothing
  -- but lets this index cover document_chunks_document_fkey.
  constraint document_chunks_position_key unique (user_id, document_id, chunk_index),
  constraint document_chunks_chunk_index_range check (chunk_index >= 0),
  constraint document_chunks_embedding_has_model check ((embedding is null) = (embedding_model is null)),
  constraint document_chunks_embedding_model_length check (char_length(embedding_model) between 1 and 200),
  constraint document_chunks_metadata_is_object check (jsonb_typeof(metadata) = 'object')
);

create index document_chunks_fts_idx on public.document_chunks using gin (fts);
create index document_chunks_embedding_idx
  on public.document_chunks using hnsw (embedding extensions.vector_cosine_ops);

create trigger set_updated_at
  before update on public.document_chunks
  for each row execute function public.set_updated_at();

-- The caller's chunks nearest to `query_embedding` by cosine distance, among those embedded by
-- `model`. Runs with the caller's rights, so RLS limits it to their own chunks. The index scan is
-- iterative (pgvector >= 0.8) so that rows dropped by RLS and the model filter do not starve it.
create function public.match_document_chunks(
  query_embedding extensions.vector(384),
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
language sql
stable
security invoker
set search_path = ''
set hnsw.iterative_scan = strict_order
as $$
  select
    c.id,
    c.document_id,
    c.chunk_index,
    c.content,
    1 - (c.embedding operator(extensions.<=>) query_embedding) as similarity
  from public.document_chunks as c
  where c.embedding_model = model
  order by c.embedding operator(extensions.<=>) query_embedding
  limit least(greatest(match_count, 0), 100)
$$;

revoke execute on function public.match_document_chunks(extensions.vector, integer, text) from public, anon;
