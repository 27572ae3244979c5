-- One full-text configuration for every searchable text: 'simple' (lower-cased words, no stemming,
-- no stop words), as notes and tasks already had. Document chunks had 'english'; they now agree,
-- and their vector is called `search` as the others' is. Queries use the same configuration:
-- websearch_to_tsquery('simple', …). See docs/adr/0016-full-text-search-configuration.md.

alter table public.document_chunks drop column fts;

alter table public.document_chunks
  add column search tsvector generated always as (to_tsvector('simple'::regconfig, content)) stored;

create index document_chunks_search_idx on public.document_chunks using gin (search);
