-- match_document_chunks asks for pgvector's iterative index scan inside its body instead of in a
-- `set hnsw.iterative_scan` clause. PostgreSQL checks such a clause when the function is defined,
-- and refuses it to a non-superuser (postgres on hosted Supabase) in a session where pgvector's
-- library is not loaded yet, as in a replay of `supabase db dump` or a squashed migration. This
-- definition needs nothing earlier in the session. The setting comes with pgvector >= 0.8.0.

create or replace function public.match_document_chunks(
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
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  -- Put back afterwards, as a SET clause would: the caller's transaction goes on without it.
  previous_scan text := pg_catalog.current_setting('hnsw.iterative_scan', true);
begin
  -- Iterative, so that rows dropped by RLS and the model filter do not starve the index scan.
  perform pg_catalog.set_config('hnsw.iterative_scan', 'strict_order', true);
  return query
    select
      c.id,
      c.document_id,
      c.chunk_index,
      c.content,
      1 - (c.embedding operator(extensions.<=>) query_embedding) as similarity
    from public.document_chunks as c
    where c.embedding_model = model
    order by c.embedding operator(extensions.<=>) query_embedding
    limit least(greatest(match_count, 0), 100);
  perform pg_catalog.set_config('hnsw.iterative_scan', coalesce(nullif(previous_scan, ''), 'off'), true);
end;
$$;

revoke execute on function public.match_document_chunks(extensions.vector, integer, text) from public, anon;
