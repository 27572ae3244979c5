-- Knowledge: vectors of several models side by side, each at its own dimension with its own index;
-- hybrid retrieval over the caller's notes and documents only; the indexing queue that a note's save
-- fills. Alice's rows have ids a…, Bob's b….
begin;
select plan(33);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

-- A vector of `dims` axes: 1 along axis n, and `w` along axis m (cosine is blind to length).
create function pg_temp.near(n integer, m integer, w real, dims integer) returns extensions.vector
language sql immutable
return (select ('[' || string_agg(case when i = n then '1' when i = m then w::text else '0' end, ',' order by i)
                || ']')::extensions.vector
        from generate_series(1, dims) as i);
create function pg_temp.axis(n integer, dims integer) returns extensions.vector
language sql immutable
return pg_temp.near(n, n, 1, dims);
grant execute on function pg_temp.axis(integer, integer), pg_temp.near(integer, integer, real, integer) to authenticated;

-- The plan of a vector search of local:use-lite, as search_knowledge writes it.
create function pg_temp.vector_plan() returns setof text
language plpgsql
as $$
begin
  return query execute format(
    'explain select id from public.document_chunks where embedding_model = ''local:use-lite''
     order by embedding::extensions.vector(512) operator(extensions.<=>) %L::extensions.vector(512) limit 5',
    pg_temp.axis(1, 512));
end;
$$;

select tests.authenticate_as('bob');
insert into public.documents (id, title, checksum)
values ('b0000000-0000-4000-8000-000000000001', 'Bob''s garden', repeat('a', 64));
insert into public.document_chunks (document_id, chunk_index, content, embedding, embedding_model)
values ('b0000000-0000-4000-8000-000000000001', 0, 'Tomatoes like the sun', pg_temp.axis(1, 512), 'local:use-lite');

select tests.authenticate_as('alice');

select lives_ok(
  $$ insert into public.documents (id, title, checksum, mime_type, size_bytes, content) values
       ('a0000000-0000-4000-8000-000000000001', 'Garden guide', repeat('a', 64), 'text/markdown', 80,
        '# Garden\n\nTomatoes like the sun.'),
       ('a0000000-0000-4000-8000-000000000002', 'Kitchen notes', repeat('b', 64), 'text/plain', 40, 'Bread') $$,
  'a user''s checksum is theirs alone: the same upload by another user is another document'
);

select throws_ok(
  $$ insert into public.documents (title, checksum) values ('Again', repeat('a', 64)) $$,
  '23505', 'duplicate key value violates unique constraint "documents_checksum_key"',
  'the same upload twice by one user is refused by its checksum'
);

select lives_ok(
  $$ insert into public.document_chunks
       (document_id, chunk_index, content, context, heading_path, char_start, char_end, embedding, embedding_model) values
       ('a0000000-0000-4000-8000-000000000001', 0, 'Tomatoes like the sun and warm soil.', 'Garden guide › Garden',
        '{Garden}', 10, 46, pg_temp.axis(1, 512), 'local:use-lite'),
       ('a0000000-0000-4000-8000-000000000001', 1, 'Water the roses in the evening.', 'Garden guide › Garden',
        '{Garden}', 47, 78, pg_temp.near(2, 1, 0.5, 512), 'local:use-lite'),
       ('a0000000-0000-4000-8000-000000000002', 0, 'Bread needs flour, water and time.', 'Kitchen notes',
        '{}', 0, 34, pg_temp.axis(3, 512), 'local:use-lite'),
       ('a0000000-0000-4000-8000-000000000002', 1, 'The same bread, by another model.', 'Kitchen notes',
        '{}', 35, 68, pg_temp.axis(1, 384), 'supabase:gte-small') $$,
  'vectors of two models, 512 and 384 dimensions, live in one column'
);

select throws_ok(
  $$ insert into public.document_chunks (document_id, chunk_index, content, embedding, embedding_model)
     values ('a0000000-0000-4000-8000-000000000002', 2, 'Cut to 384', pg_temp.axis(1, 384), 'local:use-lite') $$,
  '23514', 'new row for relation "document_chunks" violates check constraint "document_chunks_embedding_dimensions"',
  'a model''s vectors have that model''s dimension'
);

select throws_ok(
  $$ insert into public.document_chunks (document_id, note_id, chunk_index, content)
     values ('a0000000-0000-4000-8000-000000000002', null, 3, 'x'), (null, null, 4, 'y') $$,
  '23514', 'new row for relation "document_chunks" violates check constraint "document_chunks_one_source"',
  'a chunk belongs to a document or a note'
);

-- Notes: saving one queues it for indexing.
insert into public.notes (id, title, content) values
  ('a1000000-0000-4000-8000-000000000001', 'Roses', '[]'),
  ('a1000000-0000-4000-8000-000000000002', 'Bread', '[]');

select results_eq(
  $$ select note_id, attempts from public.knowledge_jobs where note_id is not null order by note_id $$,
  $$ values ('a1000000-0000-4000-8000-000000000001'::uuid, 0), ('a1000000-0000-4000-8000-000000000002'::uuid, 0) $$,
  'a new note is queued for indexing'
);

update public.knowledge_jobs set attempts = 3, last_error = 'provider down', requested_at = now() - interval '1 hour'
where note_id = 'a1000000-0000-4000-8000-000000000001';
update public.notes set is_pinned = true where id = 'a1000000-0000-4000-8000-000000000001';

select results_eq(
  $$ select attempts, last_error from public.knowledge_jobs where note_id = 'a1000000-0000-4000-8000-000000000001' $$,
  $$ values (3, 'provider down') $$,
  'pinning a note (neither title nor content) queues nothing'
);

update public.notes set title = 'Roses in June' where id = 'a1000000-0000-4000-8000-000000000001';

select results_eq(
  $$ select attempts, last_error, requested_at > now() - interval '1 minute'
     from public.knowledge_jobs where note_id = 'a1000000-0000-4000-8000-000000000001' $$,
  $$ values (0, null::text, true) $$,
  'a new title queues the note again, afresh: one job per note'
);

insert into public.document_chunks
  (note_id, chunk_index, content, context, embedding, embedding_model, source_created_at) values
  ('a1000000-0000-4000-8000-000000000001', 0, 'Prune the roses in March.', 'Roses in June',
   pg_temp.near(2, 1, 0.2, 512), 'local:use-lite', now() - interval '10 days'),
  ('a1000000-0000-4000-8000-000000000002', 0, 'Sourdough bread rises overnight.', 'Bread',
   pg_temp.axis(4, 512), 'local:use-lite', now() - interval '10 days');

-- Retrieval.

select results_eq(
  $$ select content, text_rank, vector_rank
     from public.search_knowledge('sun', pg_temp.axis(1, 512), 'local:use-lite', 3) $$,
  $$ values ('Tomatoes like the sun and warm soil.', 1, 1),
            ('Water the roses in the evening.', null, 2),
            ('Prune the roses in March.', null, 3) $$,
  'a passage first on both lists comes first; vector hits follow by distance'
);

select ok(
  (select bool_and(user_id = tests.get_supabase_uid('alice'))
   from public.document_chunks where id in (
     select chunk_id from public.search_knowledge('tomatoes sun', pg_temp.axis(1, 512), 'local:use-lite', 50))),
  'another user''s passages never appear, though Bob''s is the same text and the same vector'
);

select results_eq(
  $$ select content from public.search_knowledge('bread', pg_temp.axis(1, 384), 'supabase:gte-small', 10)
     where vector_rank is not null $$,
  $$ values ('The same bread, by another model.') $$,
  'vector search compares only vectors of the asked model'
);

select results_eq(
  $$ select content, text_rank from public.search_knowledge('how do I water the roses') $$,
  $$ values ('Water the roses in the evening.', 1), ('Prune the roses in March.', 2),
            ('Bread needs flour, water and time.', 3) $$,
  'full text without a vector: any word but stop words matches, passages with more of them first'
);

select results_eq(
  $$ select content from public.search_knowledge('roses -march') $$,
  $$ values ('Water the roses in the evening.') $$,
  'an exclusion in the query excludes'
);

select set_eq(
  $$ select content from public.search_knowledge('garden') $$,
  $$ values ('Tomatoes like the sun and warm soil.'), ('Water the roses in the evening.') $$,
  'the passage''s context (title and headings) is searched with it'
);

select is(
  (select count(*)::integer from public.search_knowledge('the of and')),
  5,
  'a query of stop words alone matches on them'
);

select results_eq(
  $$ select source, title, heading_path, char_start, char_end, note_id, document_id
     from public.search_knowledge('tomatoes', null, null, 1) $$,
  $$ values ('document', 'Garden guide', '{Garden}'::text[], 10, 46, null::uuid,
             'a0000000-0000-4000-8000-000000000001'::uuid) $$,
  'each result carries its citation: source, title, headings and offsets'
);

select results_eq(
  $$ select source, title, note_id from public.search_knowledge('sourdough') $$,
  $$ values ('note', 'Bread', 'a1000000-0000-4000-8000-000000000002'::uuid) $$,
  'notes answer too, cited by note id and title'
);

select set_eq(
  $$ select content from public.search_knowledge('bread', null, null, 10, sources => '{notes}') $$,
  $$ values ('Sourdough bread rises overnight.') $$,
  'sources filter: notes only'
);

select set_eq(
  $$ select content from public.search_knowledge('roses', pg_temp.axis(2, 512), 'local:use-lite', 10,
       document_ids => '{a0000000-0000-4000-8000-000000000001}') $$,
  $$ values ('Water the roses in the evening.'), ('Tomatoes like the sun and warm soil.') $$,
  'document ids filter both lists'
);

select set_eq(
  $$ select content from public.search_knowledge('roses bread', null, null, 10,
       note_ids => '{a1000000-0000-4000-8000-000000000001}', sources => '{notes}') $$,
  $$ values ('Prune the roses in March.') $$,
  'note ids filter'
);

select set_eq(
  $$ select content from public.search_knowledge('roses bread', null, null, 10,
       created_before => now() - interval '1 day') $$,
  $$ values ('Prune the roses in March.'), ('Sourdough bread rises overnight.') $$,
  'a date range filters by the source''s creation'
);

select is_empty(
  $$ select 1 from public.search_knowledge('tomatoes', pg_temp.axis(1, 512), 'local:use-lite', 10,
       document_ids => '{b0000000-0000-4000-8000-000000000001}') $$,
  'a filter naming another user''s document finds nothing of it'
);

select throws_ok(
  $$ select * from public.search_knowledge('x', pg_temp.axis(1, 512), null) $$,
  '22023', 'query_embedding and embedding_model are given together',
  'a vector without its model is refused'
);

select results_eq(
  $$ select count(*)::integer from public.search_knowledge('roses bread tomatoes', pg_temp.axis(1, 512), 'local:use-lite', 2) $$,
  $$ values (2) $$,
  'at most match_count results'
);

-- Many passages with the query's words: the ranked candidates are bounded, and the passage with all
-- of the query still comes first.
insert into public.document_chunks (document_id, chunk_index, content)
select 'a0000000-0000-4000-8000-000000000002', 10 + i,
       'weekly chores list ' || case when i = 2500 then 'with the rare hedgehog' else 'number ' || i end
from generate_series(0, 2599) as i;

select results_eq(
  $$ select content from public.search_knowledge('chores hedgehog', null, null, 1) $$,
  $$ values ('weekly chores list with the rare hedgehog') $$,
  'among 2600 passages with a word of the query, the one with all of it comes first'
);

select is(
  (select count(*)::integer from public.search_knowledge('weekly chores', null, null, 50)),
  50,
  'a query of words that thousands of passages have still answers'
);

-- The per-model index serves that model's search: the query's expression and predicate match it.
-- (Under RLS, for a user with few passages, the planner rightly prefers an exact scan of theirs.)
-- Every other way to that order is priced out, so the plan shows whether the index can serve the
-- query, not which way the database's statistics favour today: with a few hundred passages of the
-- model (a database other runs wrote into), a bitmap scan of (embedding_model, user_id) and a sort
-- cost less than the HNSW scan.
reset role;
set local enable_seqscan = off;
set local enable_bitmapscan = off;
set local enable_sort = off;
select ok(
  (select string_agg(plan, ' ') like '%Index Scan using document_chunks_embedding_use_lite_idx%'
   from pg_temp.vector_plan() as p (plan)),
  'vector search of a model scans that model''s own HNSW index'
);
reset enable_seqscan;
reset enable_bitmapscan;
reset enable_sort;
select tests.authenticate_as('alice');

-- The queue under RLS, and what goes when a source goes.
select tests.authenticate_as('bob');

select is_empty($$ select 1 from public.knowledge_jobs $$, 'a user does not see another user''s jobs');

select throws_ok(
  $$ insert into public.knowledge_jobs (note_id) values ('a1000000-0000-4000-8000-000000000001') $$,
  '23503', 'insert or update on table "knowledge_jobs" violates foreign key constraint "knowledge_jobs_note_fkey"',
  'a user cannot queue another user''s note'
);

select tests.authenticate_as('alice');

delete from public.notes where id = 'a1000000-0000-4000-8000-000000000001';
select is_empty(
  $$ select 1 from public.document_chunks where note_id = 'a1000000-0000-4000-8000-000000000001'
     union all select 1 from public.knowledge_jobs where note_id = 'a1000000-0000-4000-8000-000000000001' $$,
  'deleting a note deletes its chunks and its job'
);

select throws_ok(
  $$ update public.documents set status = 'failed' where id = 'a0000000-0000-4000-8000-000000000002' $$,
  '23514', 'new row for relation "documents" violates check constraint "documents_failed_has_error"',
  'a failed document says why'
);

-- prosecdef rather than isnt_definer(…, args): pgTAP 1.2 (hosted's, Debian's) matches argument
-- types by their printed names, which depend on the search path.
select ok(
  not (select prosecdef from pg_proc
       where oid = 'public.search_knowledge(text, extensions.vector, text, integer, text[], uuid[], uuid[], timestamptz, timestamptz)'::regprocedure),
  'search_knowledge runs with the caller''s rights, so RLS applies'
);

select tests.authenticate_as_anon();

select throws_ok(
  $$ select * from public.search_knowledge('roses') $$,
  '42501', 'permission denied for function search_knowledge',
  'anon cannot search'
);

select * from finish();
rollback;
