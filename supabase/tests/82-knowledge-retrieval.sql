-- Hybrid retrieval among thousands of passages (20261202010000, docs/adr/0036): the full-text
-- candidates come from the GIN index (under RLS they could not: `@@` is not leakproof), through a
-- helper that runs as its owner and still reads only the caller's passages; a search reads a bounded
-- number of rows, not every passage of the user nor other users' passages written before hers; a
-- passage with every word of the query but its stop words is found among thousands with some of
-- them. Alice's rows have ids a…, Bob's b….
begin;
select plan(11);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

-- A vector of 512 axes, 1 along axis n.
create function pg_temp.axis(n integer) returns extensions.vector
language sql immutable
return (select ('[' || string_agg(case when i = n then '1' else '0' end, ',' order by i) || ']')::extensions.vector
        from generate_series(1, 512) as i);
grant execute on function pg_temp.axis(integer) to authenticated;

-- What this transaction has done to public.document_chunks so far: scans of its full-text index,
-- and the rows its scans returned or fetched.
create function pg_temp.gin_scans() returns bigint
language sql stable
return pg_stat_get_xact_numscans('public.document_chunks_search_idx'::regclass);
create function pg_temp.rows_read() returns bigint
language sql stable
return pg_stat_get_xact_tuples_returned('public.document_chunks'::regclass)
       + pg_stat_get_xact_tuples_fetched('public.document_chunks'::regclass);
create temp table counts (name text primary key, value bigint);
grant execute on function pg_temp.gin_scans(), pg_temp.rows_read() to authenticated;
grant select, insert, update on counts to authenticated;

select tests.authenticate_as('bob');
insert into public.documents (id, title, checksum)
values ('b0000000-0000-4000-8000-000000000001', 'Bob''s chores', repeat('b', 64));
insert into public.document_chunks (id, document_id, chunk_index, content, embedding, embedding_model) values
  ('b1000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000001', 0,
   'weekly chores list with the rare hedgehog', pg_temp.axis(1), 'local:use-lite');
-- 3000 more of Bob's with the same common words, written before any of Alice's: a list that read
-- the table in order would read all of them before reaching hers (20261203010000).
insert into public.document_chunks (id, document_id, chunk_index, content)
select ('b1000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'b0000000-0000-4000-8000-000000000001', i,
       'weekly chores list of Bob''s, number ' || i
from generate_series(2, 3001) as i;

select tests.authenticate_as('alice');
insert into public.documents (id, title, checksum)
values ('a0000000-0000-4000-8000-000000000001', 'Chores', repeat('a', 64));
-- 2600 passages with words of the queries below; one (the 2501st written) has the rare word too.
insert into public.document_chunks (id, document_id, chunk_index, content, embedding, embedding_model)
select ('a1000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'a0000000-0000-4000-8000-000000000001', i,
       'weekly chores list ' || case when i = 2500 then 'with the rare hedgehog' else 'number ' || i end,
       case when i < 50 then pg_temp.axis(1 + i) end, case when i < 50 then 'local:use-lite' end
from generate_series(0, 2599) as i;

reset role;
analyze public.document_chunks;

select ok(
  coalesce((select 'fastupdate=off' = any (reloptions) from pg_class
            where oid = 'public.document_chunks_search_idx'::regclass), false),
  'the full-text index has no pending list, which a database that never vacuums would scan in every search'
);

select tests.authenticate_as('alice');

insert into counts values ('gin', pg_temp.gin_scans());
select results_eq(
  $$ select chunk_id from public.search_knowledge('hedgehog', null, null, 5) $$,
  $$ values ('a1000000-0000-4000-8000-000000002500'::uuid) $$,
  'a rare word finds its one passage among thousands, and only the caller''s'
);
select ok(
  pg_temp.gin_scans() > (select value from counts where name = 'gin'),
  'the full-text candidates come from the GIN index, though the search runs as the user'
);

insert into counts values ('rows', pg_temp.rows_read());
select is(
  (select count(*)::integer from public.search_knowledge('weekly chores list', null, null, 10)),
  10,
  'a search of words that all 2600 passages have answers'
);
select cmp_ok(
  pg_temp.rows_read() - (select value from counts where name = 'rows'),
  '<', 1000::bigint,
  'and reads a bounded number of rows for it, not every passage of the user'
);

select results_eq(
  $$ select chunk_id from public.search_knowledge('when is the hedgehog on the chores list', null, null, 1) $$,
  $$ values ('a1000000-0000-4000-8000-000000002500'::uuid) $$,
  'the passage with every word of the query but its stop words comes first, among 2600 with some of them'
);

select is_empty(
  $$ select 1 from public.search_knowledge('hedgehog chores -rare', pg_temp.axis(1), 'local:use-lite', 50)
     where content like '%rare%' $$,
  'an exclusion holds in every candidate list'
);

-- The helper, called directly: as its owner it sees every row, and returns only the caller's.
select is(
  (select array_agg(h.id) from private.knowledge_text_hits(
     'hedgehog'::tsquery, null, 'hedgehog'::tsquery, false, 100, 40, null, null, null, null, null) as h),
  array['a1000000-0000-4000-8000-000000002500'::uuid],
  'private.knowledge_text_hits returns the caller''s passages only, though Bob''s has the same words'
);

select is_empty(
  $$ select 1 from private.knowledge_text_hits('hedgehog'::tsquery, null, 'hedgehog'::tsquery, false, 100, 40,
       null, '{b0000000-0000-4000-8000-000000000001}', null, null, null) $$,
  'a filter naming another user''s document finds nothing of it'
);

select set_config('request.jwt.claims', '', true);
select is_empty(
  $$ select 1 from private.knowledge_text_hits('hedgehog'::tsquery, null, 'hedgehog'::tsquery, false, 100, 40,
       null, null, null, null, null) $$,
  'without a user it returns nothing'
);

select tests.authenticate_as_anon();
select throws_ok(
  $$ select * from private.knowledge_text_hits('hedgehog'::tsquery, null, null, false, 100, 40, null, null, null, null, null) $$,
  '42501', 'permission denied for schema private',
  'anon cannot call it'
);

select * from finish();
rollback;
