-- agent_runs: records of agents' work in a user's conversations, private to the user, kept with
-- their conversation. Alice's rows have ids a…, Bob's b….
begin;
select plan(20);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

select policies_are('public', 'agent_runs', array[
  'Users can read their own agent runs', 'Users can start their own agent runs',
  'Users can update their own agent runs'
]);

select tests.authenticate_as('bob');
insert into public.conversations (id) values ('b0000000-0000-4000-8000-000000000001');
insert into public.messages (id, conversation_id, role, content)
  values ('b0000000-0000-4000-8000-000000000011', 'b0000000-0000-4000-8000-000000000001', 'user', 'Hi');

select tests.authenticate_as('alice');
insert into public.conversations (id) values
  ('a0000000-0000-4000-8000-000000000001'), ('a0000000-0000-4000-8000-000000000002');
insert into public.messages (id, conversation_id, role, content) values
  ('a0000000-0000-4000-8000-000000000011', 'a0000000-0000-4000-8000-000000000001', 'user', 'Plan my week'),
  ('a0000000-0000-4000-8000-000000000021', 'a0000000-0000-4000-8000-000000000002', 'user', 'Other chat');

select results_eq(
  $$ insert into public.agent_runs (id, conversation_id, trigger_message_id, agent_id)
     values ('a0000000-0000-4000-8000-000000000101', 'a0000000-0000-4000-8000-000000000001',
             'a0000000-0000-4000-8000-000000000011', 'coordinator')
     returning user_id, status::text, usage, started_at, finished_at $$,
  $$ values (tests.get_supabase_uid('alice'), 'queued', '{}'::jsonb, null::timestamptz, null::timestamptz) $$,
  'a user starts a run in their conversation: queued, no usage yet'
);

select throws_ok(
  $$ insert into public.agent_runs (conversation_id, agent_id)
     values ('b0000000-0000-4000-8000-000000000001', 'coordinator') $$,
  '23503', 'insert or update on table "agent_runs" violates foreign key constraint "agent_runs_conversation_fkey"',
  'a user cannot start a run in another user''s conversation'
);

select throws_ok(
  $$ insert into public.agent_runs (conversation_id, trigger_message_id, agent_id)
     values ('a0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000021', 'coordinator') $$,
  '23503', 'insert or update on table "agent_runs" violates foreign key constraint "agent_runs_trigger_message_fkey"',
  'a run answers a message of its own conversation'
);

select throws_ok(
  $$ update public.agent_runs set status = 'running' where id = 'a0000000-0000-4000-8000-000000000101' $$,
  '23514', 'new row for relation "agent_runs" violates check constraint "agent_runs_timings_follow_status"',
  'a running run has started'
);

select lives_ok(
  $$ update public.agent_runs set status = 'running', started_at = clock_timestamp(), model = 'openai:gpt-4.1-mini'
     where id = 'a0000000-0000-4000-8000-000000000101' $$,
  'a run starts'
);

select throws_ok(
  $$ update public.agent_runs set status = 'failed', finished_at = clock_timestamp()
     where id = 'a0000000-0000-4000-8000-000000000101' $$,
  '23514', 'new row for relation "agent_runs" violates check constraint "agent_runs_error_when_failed"',
  'a failed run says why'
);

select throws_ok(
  $$ update public.agent_runs set status = 'failed', finished_at = clock_timestamp(), error = '{"message": "?"}'
     where id = 'a0000000-0000-4000-8000-000000000101' $$,
  '23514', 'new row for relation "agent_runs" violates check constraint "agent_runs_error_has_code"',
  'a run''s error has a code'
);

select throws_ok(
  $$ update public.agent_runs set status = 'succeeded', finished_at = created_at - interval '1 second'
     where id = 'a0000000-0000-4000-8000-000000000101' $$,
  '23514', 'new row for relation "agent_runs" violates check constraint "agent_runs_timings_in_order"',
  'a run finishes after it starts'
);

select throws_ok(
  $$ update public.agent_runs set usage = '[]' where id = 'a0000000-0000-4000-8000-000000000101' $$,
  '23514', 'new row for relation "agent_runs" violates check constraint "agent_runs_usage_is_object"',
  'usage is an object of models'
);

select results_eq(
  $$ update public.agent_runs
     set status = 'succeeded', finished_at = clock_timestamp(),
         usage = '{"openai:gpt-4.1-mini": {"input_tokens": 812, "output_tokens": 95}}'
     where id = 'a0000000-0000-4000-8000-000000000101'
     returning status::text, finished_at >= started_at, updated_at > created_at $$,
  $$ values ('succeeded', true, true) $$,
  'a run succeeds with its usage, and updated_at moves'
);

select lives_ok(
  $$ insert into public.agent_runs (conversation_id, agent_id, status, finished_at, error)
     values ('a0000000-0000-4000-8000-000000000002', 'planner', 'failed', now(),
             '{"code": "provider_unavailable", "message": "No AI provider is configured"}') $$,
  'a run may fail before it starts'
);

select throws_ok(
  $$ delete from public.agent_runs where id = 'a0000000-0000-4000-8000-000000000101' $$,
  '42501', 'permission denied for table agent_runs',
  'runs are records: a user cannot delete one'
);

select tests.authenticate_as('bob');

select is_empty($$ select 1 from public.agent_runs $$, 'a user sees none of another user''s runs');

select is_empty(
  $$ update public.agent_runs set status = 'cancelled' where id = 'a0000000-0000-4000-8000-000000000101' returning 1 $$,
  'a user cannot change another user''s run'
);

select throws_ok(
  $$ insert into public.agent_runs (user_id, conversation_id, agent_id)
     values (tests.get_supabase_uid('alice'), 'a0000000-0000-4000-8000-000000000001', 'coordinator') $$,
  '42501', 'new row violates row-level security policy for table "agent_runs"',
  'a user cannot start a run as another user'
);

select tests.authenticate_as('alice');

delete from public.messages where id = 'a0000000-0000-4000-8000-000000000011';
select results_eq(
  $$ select trigger_message_id, status::text from public.agent_runs where id = 'a0000000-0000-4000-8000-000000000101' $$,
  $$ values (null::uuid, 'succeeded') $$,
  'a run outlives its trigger message'
);

delete from public.conversations where id = 'a0000000-0000-4000-8000-000000000001';
select results_eq(
  $$ select agent_id from public.agent_runs $$,
  $$ values ('planner') $$,
  'a conversation''s runs go with it'
);

select tests.authenticate_as_anon();

select throws_ok(
  $$ select 1 from public.agent_runs $$,
  '42501', 'permission denied for table agent_runs',
  'a visitor without a session is refused'
);

select tests.clear_authentication();

select is_empty(
  $$ select 1 from public.agent_runs where conversation_id = 'b0000000-0000-4000-8000-000000000001' $$,
  'the other user''s conversation got no run'
);

select * from finish();
rollback;
