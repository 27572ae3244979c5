-- The periodic drain's view of who has knowledge work (private.knowledge_work_users): due jobs,
-- documents whose last attempt died, and passages of another model; for the function's own role,
-- never for a user. Scheduling with pg_cron is skipped where the extensions are absent.
begin;
select plan(11);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
select tests.create_supabase_user('carol');
select tests.create_supabase_user('dave');

create function pg_temp.unit(dims integer) returns extensions.vector
language sql immutable
return (select ('[' || string_agg(case when i = 1 then '1' else '0' end, ',') || ']')::extensions.vector
        from generate_series(1, dims) as i);

-- Alice: a note queued and due now. Bob: a note queued, but leased by a worker. Carol: passages of
-- another model than the configured one. Dave: everything indexed with the configured model.
insert into public.notes (id, user_id, title)
values ('a0000000-0000-4000-8000-000000000001', tests.get_supabase_uid('alice'), 'Queued'),
       ('b0000000-0000-4000-8000-000000000001', tests.get_supabase_uid('bob'), 'Being indexed'),
       ('c0000000-0000-4000-8000-000000000001', tests.get_supabase_uid('carol'), 'Old model'),
       ('d0000000-0000-4000-8000-000000000001', tests.get_supabase_uid('dave'), 'Current model');
update public.knowledge_jobs set locked_until = now() + interval '5 minutes'
where note_id = 'b0000000-0000-4000-8000-000000000001';
delete from public.knowledge_jobs
where note_id in ('c0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001');
insert into public.document_chunks (user_id, note_id, chunk_index, content, embedding, embedding_model)
values (tests.get_supabase_uid('carol'), 'c0000000-0000-4000-8000-000000000001', 0, 'Old', pg_temp.unit(384),
        'openai:text-embedding-3-small'),
       (tests.get_supabase_uid('dave'), 'd0000000-0000-4000-8000-000000000001', 0, 'New', pg_temp.unit(512),
        'local:use-lite');

-- Asked about these four only: a database the suite has used before holds other users' work.
create function pg_temp.four() returns uuid[] language sql stable
return (select array_agg(tests.get_supabase_uid(name)) from unnest(array['alice', 'bob', 'carol', 'dave']) as name);

select is(
  (select array_agg(u.user_id order by u.user_id)
   from private.knowledge_work_users('local:use-lite', 5, 10, pg_temp.four()) as u),
  (select array_agg(id order by id) from (values (tests.get_supabase_uid('alice')), (tests.get_supabase_uid('carol'))) as v (id)),
  'due jobs and passages of another model are work; a leased job and passages of the configured model are not'
);

-- A job that will be tried later is not due yet; once its backoff has passed, it is.
update public.knowledge_jobs set run_after = now() + interval '1 minute', attempts = 1
where note_id = 'a0000000-0000-4000-8000-000000000001';
select ok(
  tests.get_supabase_uid('alice') not in (select user_id from private.knowledge_work_users('local:use-lite', 5, 100)),
  'a job waiting out its backoff is not due'
);

-- A document whose last attempt's worker died is work: the drain fails it with its error.
insert into public.documents (id, user_id, title, checksum, status)
values ('d0000000-0000-4000-8000-0000000000d1', tests.get_supabase_uid('dave'), 'Stuck', repeat('d', 64), 'processing');
insert into public.knowledge_jobs (user_id, document_id, attempts, locked_until)
values (tests.get_supabase_uid('dave'), 'd0000000-0000-4000-8000-0000000000d1', 5, now() - interval '1 second');
select ok(
  tests.get_supabase_uid('dave') in (select user_id from private.knowledge_work_users('local:use-lite', 5, 100, pg_temp.four())),
  'a document whose last attempt died is work'
);

-- A note job out of attempts is not (it stays as the record of the failure until the note is saved again).
update public.knowledge_jobs set attempts = 5, run_after = now() - interval '1 minute'
where note_id = 'a0000000-0000-4000-8000-000000000001';
select ok(
  tests.get_supabase_uid('alice') not in (select user_id from private.knowledge_work_users('local:use-lite', 5, 100)),
  'a note job out of attempts is not work'
);

select is(
  (select count(*)::integer from private.knowledge_work_users('local:use-lite', 5, 1)),
  1,
  'max_users bounds the answer'
);

select is(
  (select count(*)::integer from private.knowledge_work_users('local:use-lite', 5, 0)),
  0,
  'max_users 0 answers nobody'
);

select is(
  (select array_agg(user_id) from private.knowledge_work_users('local:use-lite', 5, 10,
     array[tests.get_supabase_uid('carol'), tests.get_supabase_uid('bob')])),
  array[tests.get_supabase_uid('carol')],
  'only_users narrows the answer to those users'
);

-- Whose work waited longest comes first: Bob's lease ran out ten minutes ago, Dave's document's
-- one second ago, Carol's passages only need embedding again.
update public.knowledge_jobs
set run_after = now() - interval '20 minutes', locked_until = now() - interval '10 minutes'
where note_id = 'b0000000-0000-4000-8000-000000000001';
update public.knowledge_jobs set run_after = now() - interval '1 hour'
where document_id = 'd0000000-0000-4000-8000-0000000000d1';
select is(
  (select array_agg(user_id) from private.knowledge_work_users('local:use-lite', 5, 10, pg_temp.four())),
  array[tests.get_supabase_uid('bob'), tests.get_supabase_uid('dave'), tests.get_supabase_uid('carol')],
  'the users whose work has waited longest come first, passages of another model last'
);

select ok(
  has_function_privilege('service_role', 'private.knowledge_work_users(text, integer, integer, uuid[])', 'execute')
  and not has_function_privilege('authenticated', 'private.knowledge_work_users(text, integer, integer, uuid[])', 'execute')
  and not has_function_privilege('authenticated', 'private.schedule_knowledge_drain()', 'execute'),
  'only the service role (and the owner) may ask who has knowledge work, or schedule the drain'
);

select matches(
  private.schedule_knowledge_drain(),
  '^not scheduled: enable pg_cron and pg_net',
  'without pg_cron and pg_net the drain is not scheduled, and says what to do'
);

select tests.authenticate_as('alice');

select throws_ok(
  $$ select * from private.knowledge_work_users('local:use-lite', 5, 10) $$,
  '42501', null,
  'a user cannot ask who else has knowledge work'
);

select * from finish();
rollback;
