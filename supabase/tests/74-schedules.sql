-- schedules: a user's scheduled check-ins, private to them; the grants that let a scheduled run act
-- as its owner; and the pg_cron job of hosted Supabase, installed against stand-ins of pg_cron,
-- pg_net and Vault (the embedded database has none of them).
begin;
select plan(31);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
select tests.create_supabase_user('banned');

insert into public.conversations (id, user_id, title) values
  ('a1000000-0000-4000-8000-000000000001', tests.get_supabase_uid('alice'), 'Alice''s mornings'),
  ('b1000000-0000-4000-8000-000000000001', tests.get_supabase_uid('bob'), 'Bob''s chat');

select policies_are('public', 'schedules', array[
  'Users can read their own schedules', 'Users can create their own schedules',
  'Users can update their own schedules', 'Users can delete their own schedules'
]);

select tests.authenticate_as('alice');

select results_eq(
  $$ insert into public.schedules (id, kind, agent_id, cron, next_run_at, next_run_time_zone)
     values ('a0000000-0000-4000-8000-000000000001', 'daily_plan', 'planner', '0 7 * * *',
             '2030-01-01T06:00:00Z', 'Europe/Berlin')
     returning user_id, enabled, prompt, conversation_id $$,
  $$ values (tests.get_supabase_uid('alice'), true, null::text, null::uuid) $$,
  'a user schedules a preset of their own, enabled, with its built-in prompt and a conversation to come'
);

select lives_ok(
  $$ insert into public.schedules (id, kind, agent_id, prompt, cron, time_zone, conversation_id, enabled)
     values ('a0000000-0000-4000-8000-000000000002', 'custom', 'coordinator', 'How is my week going?',
             '30 12 * * 1-5', 'America/New_York', 'a1000000-0000-4000-8000-000000000001', false) $$,
  'a custom schedule with its own prompt, time zone and one of the user''s conversations, turned off'
);

select throws_ok(
  $$ insert into public.schedules (user_id, kind, agent_id, cron, next_run_at)
     values (tests.get_supabase_uid('bob'), 'daily_plan', 'planner', '0 7 * * *', now()) $$,
  '42501', 'new row violates row-level security policy for table "schedules"',
  'nobody schedules for another user'
);

select throws_ok(
  $$ insert into public.schedules (kind, agent_id, cron, conversation_id, next_run_at)
     values ('daily_plan', 'planner', '0 7 * * *', 'b1000000-0000-4000-8000-000000000001', now()) $$,
  '23503', null,
  'a schedule cannot answer in another user''s conversation'
);

select throws_ok(
  $$ insert into public.schedules (kind, agent_id, cron, next_run_at)
     values ('custom', 'coordinator', '0 7 * * *', now()) $$,
  '23514', 'new row for relation "schedules" violates check constraint "schedules_custom_has_prompt"',
  'a custom schedule has a prompt'
);

select throws_ok(
  $$ insert into public.schedules (kind, agent_id, cron, next_run_at)
     values ('daily_plan', 'planner', '0 0 7 * * *', now()) $$,
  '23514', 'new row for relation "schedules" violates check constraint "schedules_cron_has_five_fields"',
  'a cron expression has five fields'
);

select throws_ok(
  $$ insert into public.schedules (kind, agent_id, cron) values ('daily_plan', 'planner', '0 7 * * *') $$,
  '23514', 'new row for relation "schedules" violates check constraint "schedules_due_when_enabled"',
  'an enabled schedule is due some time'
);

select throws_ok(
  $$ insert into public.schedules (kind, agent_id, cron, enabled, next_run_at)
     values ('daily_plan', 'planner', '0 7 * * *', false, now()) $$,
  '23514', 'new row for relation "schedules" violates check constraint "schedules_due_when_enabled"',
  'and a disabled one never'
);

select throws_ok(
  $$ update public.schedules set last_error = '{"message": "no code"}'
     where id = 'a0000000-0000-4000-8000-000000000001' $$,
  '23514', 'new row for relation "schedules" violates check constraint "schedules_last_error_has_code"',
  'a schedule''s last error has a code'
);

select throws_ok(
  $$ select * from private.schedule_grants $$,
  '42501', 'permission denied for table schedule_grants',
  'a user cannot see the grants of scheduled runs'
);
select throws_ok(
  $$ select private.schedule_grant_is_active('00000000-0000-4000-8000-000000000000') $$,
  '42501', null,
  'nor ask about one directly'
);
select throws_ok(
  $$ select private.install_schedules_check() $$,
  '42501', null,
  'nor install the cron job'
);

select tests.authenticate_as('bob');

select is_empty(
  $$ select id from public.schedules where user_id = tests.get_supabase_uid('alice') $$,
  'another user sees none of them'
);
select is_empty(
  $$ update public.schedules set enabled = false, next_run_at = null
     where id = 'a0000000-0000-4000-8000-000000000001' returning id $$,
  'nor changes one'
);
select is_empty(
  $$ delete from public.schedules where id = 'a0000000-0000-4000-8000-000000000001' returning id $$,
  'nor deletes one'
);

select tests.authenticate_as_anon();
select throws_ok(
  $$ select * from public.schedules $$,
  '42501', 'permission denied for table schedules',
  'anon reads no schedule'
);

-- Grants: issued by the due check (as service_role), for one user, for a while.
select tests.clear_authentication();
set local role service_role;
select lives_ok(
  $$ insert into private.schedule_grants (id, user_id, schedule_id, expires_at) values
       ('9a000000-0000-4000-8000-000000000001', tests.get_supabase_uid('alice'),
        'a0000000-0000-4000-8000-000000000001', now() + interval '5 minutes') $$,
  'service_role issues a grant'
);
select lives_ok(
  $$ update public.schedules set next_run_at = '2030-01-02T06:00:00Z'
     where id = 'a0000000-0000-4000-8000-000000000001' $$,
  'and moves any user''s schedule on'
);
reset role;
insert into private.schedule_grants (id, user_id, schedule_id, created_at, expires_at) values
  ('9a000000-0000-4000-8000-000000000002', tests.get_supabase_uid('alice'),
   'a0000000-0000-4000-8000-000000000001', now() - interval '10 minutes', now() - interval '1 minute'),
  ('9a000000-0000-4000-8000-000000000003', tests.get_supabase_uid('banned'),
   'a0000000-0000-4000-8000-000000000001', now(), now() + interval '5 minutes');
update auth.users set banned_until = now() + interval '1 day' where id = tests.get_supabase_uid('banned');

select tests.authenticate_as('alice');
select ok(
  private.require_live_session('9a000000-0000-4000-8000-000000000001'),
  'a live grant of one''s own passes the session check of withUser'
);
select throws_ok(
  $$ select private.require_live_session('9a000000-0000-4000-8000-000000000002') $$,
  'CS401', 'This session has ended; sign in again',
  'an expired grant does not'
);
select throws_ok(
  $$ insert into private.schedule_grants (user_id, schedule_id, expires_at)
     values (tests.get_supabase_uid('alice'), gen_random_uuid(), now() + interval '1 day') $$,
  '42501', null,
  'a user cannot issue a grant to themselves'
);

select tests.authenticate_as('bob');
select throws_ok(
  $$ select private.require_live_session('9a000000-0000-4000-8000-000000000001') $$,
  'CS401', 'This session has ended; sign in again',
  'another user''s grant does not'
);

select tests.authenticate_as('banned');
select throws_ok(
  $$ select private.require_live_session('9a000000-0000-4000-8000-000000000003') $$,
  'CS401', 'This session has ended; sign in again',
  'nor the grant of a user banned since'
);

select tests.clear_authentication();

-- A chosen conversation deleted: the schedule goes on, in a conversation of its own next time.
delete from public.conversations where id = 'a1000000-0000-4000-8000-000000000001';
select is(
  (select conversation_id from public.schedules where id = 'a0000000-0000-4000-8000-000000000002'),
  null,
  'deleting a schedule''s conversation leaves the schedule, with no conversation'
);

-- The cron job of hosted Supabase: nothing to install here.
select is(
  private.install_schedules_check(),
  'skipped: pg_cron, pg_net or Vault is not installed',
  'without pg_cron and pg_net the installer schedules nothing'
);

-- Stand-ins with pg_cron's, pg_net's and Vault's names and signatures, rolled back with the test.
create schema cron;
create table cron.job (jobname text primary key, schedule text, command text);
create function cron.schedule(job_name text, schedule text, command text) returns bigint
language sql as $$
  insert into cron.job values (job_name, schedule, command)
  on conflict (jobname) do update set schedule = excluded.schedule, command = excluded.command
  returning 1::bigint
$$;
create schema net;
create table net.requests (url text, headers jsonb, body jsonb, timeout_milliseconds integer);
create function net.http_post(
  url text, body jsonb default '{}', params jsonb default '{}', headers jsonb default '{}',
  timeout_milliseconds integer default 5000
) returns bigint
language sql as $$
  insert into net.requests values (url, headers, body, timeout_milliseconds) returning 1::bigint
$$;
create schema vault;
create table vault.decrypted_secrets (name text primary key, decrypted_secret text);

select is(
  private.install_schedules_check(),
  'scheduled: consilium-schedules-due, every minute',
  'with them it schedules the due check'
);
select is(private.install_schedules_check(), 'scheduled: consilium-schedules-due, every minute', 'twice');
select results_eq(
  $$ select jobname, schedule from cron.job $$,
  $$ values ('consilium-schedules-due'::text, '* * * * *'::text) $$,
  'as one job, every minute'
);

do $$ begin execute (select command from cron.job where jobname = 'consilium-schedules-due'); end $$;
select is_empty($$ select * from net.requests $$, 'the job calls nothing while Vault lacks the secrets');

insert into vault.decrypted_secrets values
  ('project_url', 'https://abcdefghijklmnop.supabase.co'),
  ('schedules_check_key', 'the-check-secret');
do $$ begin execute (select command from cron.job where jobname = 'consilium-schedules-due'); end $$;
select results_eq(
  $$ select url, headers ->> 'Authorization', body, timeout_milliseconds from net.requests $$,
  $$ values ('https://abcdefghijklmnop.supabase.co/functions/v1/ai/schedules/due'::text,
             'Bearer the-check-secret'::text, '{}'::jsonb, 10000) $$,
  'with them it posts to the ai function''s due check with the key from Vault'
);

select * from finish();
rollback;
