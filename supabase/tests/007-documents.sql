-- documents and chunks: private to their user; a chunk's document belongs to the same user; vector
-- search sees only the caller's chunks of the asked model. Alice's rows have ids a…, Bob's b….
begin;
select plan(19);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

-- Unit vectors along the first and the second of 384 axes: cosine similarity 1 with themselves,
-- 0 with each other.
create function pg_temp.axis(n integer) returns extensions.vector
language sql immutable
return ('[' || repeat('0,', n - 1) || '1' || repeat(',0', 384 - n) || ']')::extensions.vector;
grant execute on function pg_temp.axis(integer) to authenticated;

select tests.authenticate_as('bob');

insert into public.documents (id, title) values ('b0000000-0000-4000-8000-000000000001', 'Bob''s diary');
insert into public.document_chunks (document_id, chunk_index, content, embedding, embedding_model)
values ('b0000000-0000-4000-8000-000000000001', 0, 'Bob''s secret', pg_temp.axis(1), 'gte-small');

select tests.authenticate_as('alice');

select results_eq(
  $$ insert into public.documents (id, title, source) values ('a0000000-0000-4000-8000-000000000001', 'Pets', 'pets.md')
     returning user_id, status $$,
  $$ values (tests.get_supabase_uid('alice'), 'pending'::public.document_status) $$,
  'a user adds a document, pending until processed'
);

select lives_ok(
  $$ insert into public.document_chunks (document_id, chunk_index, content, embedding, embedding_model) values
       ('a0000000-0000-4000-8000-000000000001', 0, 'The cats sat on the mat', pg_temp.axis(1), 'gte-small'),
       ('a0000000-0000-4000-8000-000000000001', 1, 'Dogs bark at night', pg_temp.axis(2), 'gte-small'),
       ('a0000000-0000-4000-8000-000000000001', 2, 'Embedded elsewhere', pg_temp.axis(1), 'other-model'),
       ('a0000000-0000-4000-8000-000000000001', 3, 'Not embedded yet', null, null) $$,
  'a user adds chunks to their own document'
);

select ok(
  (select search @@ websearch_to_tsquery('simple', 'Cats mat') from public.document_chunks where chunk_index = 0),
  'a chunk''s full-text vector is kept from its content'
);

select results_eq(
  $$ select chunk_index, similarity from public.match_document_chunks(pg_temp.axis(1), 10, 'gte-small') $$,
  $$ values (0, 1::double precision), (1, 0::double precision) $$,
  'vector search returns the user''s own chunks of the asked model, nearest first'
);

select results_eq(
  $$ select chunk_index from public.match_document_chunks(pg_temp.axis(1), 1, 'gte-small') $$,
  $$ values (0) $$,
  'vector search returns at most match_count chunks'
);

select tests.authenticate_as('bob');

select results_eq(
  $$ select content from public.match_document_chunks(pg_temp.axis(1), 10, 'gte-small') $$,
  $$ values ('Bob''s secret') $$,
  'another user''s vector search finds only their own chunks'
);

select results_eq(
  $$ select id from public.documents $$,
  $$ values ('b0000000-0000-4000-8000-000000000001'::uuid) $$,
  'a user sees only their own documents'
);

select is_empty(
  $$ update public.documents set status = 'failed' where id = 'a0000000-0000-4000-8000-000000000001' returning 1 $$,
  'a user cannot change another user''s document'
);

select is_empty(
  $$ delete from public.document_chunks where document_id = 'a0000000-0000-4000-8000-000000000001' returning 1 $$,
  'a user cannot delete another user''s chunks'
);

select throws_ok(
  $$ insert into public.document_chunks (document_id, chunk_index, content)
     values ('a0000000-0000-4000-8000-000000000001', 9, 'Injected') $$,
  '23503', 'insert or update on table "document_chunks" violates foreign key constraint "document_chunks_document_fkey"',
  'a user cannot add chunks to another user''s document'
);

select tests.authenticate_as('alice');

select is(
  (select count(*)::integer from public.document_chunks),
  4,
  'the other user''s attempts changed nothing'
);

select throws_ok(
  $$ insert into public.document_chunks (document_id, chunk_index, content, embedding)
     values ('a0000000-0000-4000-8000-000000000001', 4, 'Which model?', pg_temp.axis(3)) $$,
  '23514', 'new row for relation "document_chunks" violates check constraint "document_chunks_embedding_has_model"',
  'an embedding records the model that made it'
);

select throws_ok(
  $$ insert into public.document_chunks (document_id, chunk_index, content, embedding, embedding_model)
     values ('a0000000-0000-4000-8000-000000000001', 4, 'Too short', '[1,2,3]', 'supabase:gte-small') $$,
  '23514', 'new row for relation "document_chunks" violates check constraint "document_chunks_embedding_dimensions"',
  'an embedding has its model''s dimensions (gte-small: 384)'
);

select throws_ok(
  $$ insert into public.document_chunks (document_id, chunk_index, content)
     values ('a0000000-0000-4000-8000-000000000001', 0, 'Again') $$,
  '23505', 'duplicate key value violates unique constraint "document_chunks_position_key"',
  'a document has one chunk per position'
);

select results_eq(
  $$ update public.documents set status = 'ready' where id = 'a0000000-0000-4000-8000-000000000001'
     returning status, updated_at > created_at $$,
  $$ values ('ready'::public.document_status, true) $$,
  'a user updates their own document, and updated_at moves'
);

delete from public.documents where id = 'a0000000-0000-4000-8000-000000000001';
select is_empty($$ select 1 from public.document_chunks $$, 'deleting a document deletes its chunks');

select tests.authenticate_as_anon();

select throws_ok(
  $$ select * from public.documents $$,
  '42501', 'permission denied for table documents',
  'anon cannot read documents'
);

select throws_ok(
  $$ select * from public.document_chunks $$,
  '42501', 'permission denied for table document_chunks',
  'anon cannot read chunks'
);

select throws_ok(
  $$ select * from public.match_document_chunks(pg_temp.axis(1), 10, 'gte-small') $$,
  '42501', 'permission denied for function match_document_chunks',
  'anon cannot search chunks'
);

select * from finish();
rollback;
