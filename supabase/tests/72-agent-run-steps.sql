-- agent_run_steps: the steps of a run, private to the run's user, written once and kept with the
-- run. Alice's rows have ids a…, Bob's b….
begin;
select plan(11);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

select policies_are('public', 'agent_run_steps', array[
  'Users can read the steps of their own runs', 'Users can record steps of their own runs'
]);

select tests.authenticate_as('bob');
insert into public.conversations (id) values ('b0000000-0000-4000-8000-000000000001');
insert into public.agent_runs (id, conversation_id, agent_id)
  values ('b0000000-0000-4000-8000-000000000101', 'b0000000-0000-4000-8000-000000000001', 'coordinator');
insert into public.agent_run_steps (run_id, position, kind, name, agent_id, started_at, finished_at)
  values ('b0000000-0000-4000-8000-000000000101', 0, 'context', 'context', 'coordinator', now(), now());

select tests.authenticate_as('alice');
insert into public.conversations (id) values ('a0000000-0000-4000-8000-000000000001');
insert into public.agent_runs (id, conversation_id, agent_id)
  values ('a0000000-0000-4000-8000-000000000101', 'a0000000-0000-4000-8000-000000000001', 'task_manager');

select lives_ok(
  $$ insert into public.agent_run_steps (run_id, position, kind, name, agent_id, input, output, started_at, finished_at)
     values ('a0000000-0000-4000-8000-000000000101', 0, 'tool_call', 'create_task', 'task_manager',
             '{"arguments": {"title": "Buy milk"}}', '{"result": {}}', now(), now()) $$,
  'a user records a step of their own run'
);

select throws_ok(
  $$ insert into public.agent_run_steps (run_id, position, kind, name, agent_id, started_at, finished_at)
     values ('b0000000-0000-4000-8000-000000000101', 1, 'model_call', 'openai:x', 'coordinator', now(), now()) $$,
  '23503', 'insert or update on table "agent_run_steps" violates foreign key constraint "agent_run_steps_run_fkey"',
  'a user cannot record a step of another user''s run'
);

select throws_ok(
  $$ insert into public.agent_run_steps (run_id, position, kind, name, agent_id, started_at, finished_at)
     values ('a0000000-0000-4000-8000-000000000101', 0, 'model_call', 'openai:x', 'task_manager', now(), now()) $$,
  '23505', 'duplicate key value violates unique constraint "agent_run_steps_run_id_position_key"',
  'two steps of a run do not share a position'
);

select throws_ok(
  $$ insert into public.agent_run_steps (run_id, position, kind, name, agent_id, error, started_at, finished_at)
     values ('a0000000-0000-4000-8000-000000000101', 1, 'tool_call', 'create_task', 'task_manager',
             '{"message": "no code"}', now(), now()) $$,
  '23514', 'new row for relation "agent_run_steps" violates check constraint "agent_run_steps_error_has_code"',
  'a step''s error says its code'
);

select results_eq(
  $$ select name from public.agent_run_steps $$,
  $$ values ('create_task') $$,
  'a user reads only the steps of their own runs'
);

-- Steps are records: no update, no delete.
select throws_ok(
  $$ update public.agent_run_steps set name = 'changed' $$,
  '42501', 'permission denied for table agent_run_steps', 'a user cannot change a step'
);
select throws_ok(
  $$ delete from public.agent_run_steps $$,
  '42501', 'permission denied for table agent_run_steps', 'a user cannot delete a step'
);

select tests.clear_authentication();
select is(
  (select count(*)::int from public.agent_run_steps where run_id = 'b0000000-0000-4000-8000-000000000101'),
  1, 'bob''s step is untouched'
);

delete from public.conversations where id = 'a0000000-0000-4000-8000-000000000001';
select is(
  (select count(*)::int from public.agent_run_steps where run_id = 'a0000000-0000-4000-8000-000000000101'),
  0, 'steps go with their run when the conversation is deleted'
);

select tests.authenticate_as_anon();
select throws_ok(
  $$ select 1 from public.agent_run_steps $$,
  '42501', 'permission denied for table agent_run_steps', 'anon reads no step'
);

select * from finish();
rollback;
