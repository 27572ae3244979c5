-- private.check_run_limits: at most `max_active` runs queued or running per user, at most
-- `per_minute` started a minute (counted apart from the runs), stale runs marked failed first.
begin;
select plan(8);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

select tests.authenticate_as('alice');
insert into public.conversations (id) values ('a0000000-0000-4000-8000-000000000001');
insert into public.agent_runs (id, conversation_id, agent_id) values
  ('a0000000-0000-4000-8000-000000000101', 'a0000000-0000-4000-8000-000000000001', 'coordinator'),
  ('a0000000-0000-4000-8000-000000000102', 'a0000000-0000-4000-8000-000000000001', 'coordinator');

select throws_ok(
  $$ select private.check_run_limits(2, 0, interval '60 seconds') $$,
  'CS429', 'At most 2 runs may work at once; wait for one to finish or cancel one',
  'a third run at once is refused'
);
select lives_ok($$ select private.check_run_limits(3, 0, interval '60 seconds') $$, 'within the limit it passes');

select tests.authenticate_as('bob');
select lives_ok(
  $$ select private.check_run_limits(2, 0, interval '60 seconds') $$,
  'another user''s runs do not count'
);

-- Alice's first run went quiet ten minutes ago (the updated_at trigger is off for this).
reset role;
alter table public.agent_runs disable trigger set_updated_at;
update public.agent_runs set updated_at = now() - interval '10 minutes'
  where id = 'a0000000-0000-4000-8000-000000000101';
alter table public.agent_runs enable trigger set_updated_at;
select tests.authenticate_as('alice');
select lives_ok(
  $$ select private.check_run_limits(2, 0, interval '60 seconds') $$,
  'a stale run no longer counts'
);
select results_eq(
  $$ select status::text, error ->> 'code' from public.agent_runs where id = 'a0000000-0000-4000-8000-000000000101' $$,
  $$ values ('failed', 'interrupted') $$,
  'the stale run is marked failed, interrupted'
);

select lives_ok($$ select private.check_run_limits(0, 2, interval '60 seconds') $$, 'the first run of the minute');
select lives_ok($$ select private.check_run_limits(0, 2, interval '60 seconds') $$, 'the second');
select throws_ok(
  $$ select private.check_run_limits(0, 2, interval '60 seconds') $$,
  'CS429', 'At most 2 runs may start in a minute; wait before starting another',
  'the third run of the minute is refused'
);

select * from finish();
rollback;
