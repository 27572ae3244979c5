-- Approval before an agent's change (ADR 0030): a run waiting for approval, its kept state
-- (agent_run_pauses) and the changes it proposes (agent_run_approvals), private to the run's user.
-- Alice's rows have ids a…, Bob's b….
begin;
select plan(25);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

select policies_are('public', 'agent_run_pauses', array[
  'Users can read their own paused runs', 'Users can pause their own runs',
  'Users can resume their own paused runs'
]);
select policies_are('public', 'agent_run_approvals', array[
  'Users can read the approvals of their own runs', 'Users can record proposed changes of their own runs',
  'Users can decide the proposed changes of their own runs'
]);

select tests.authenticate_as('bob');
insert into public.conversations (id) values ('b0000000-0000-4000-8000-000000000001');
insert into public.agent_runs (id, conversation_id, agent_id, status, started_at)
  values ('b0000000-0000-4000-8000-000000000101', 'b0000000-0000-4000-8000-000000000001', 'coordinator',
          'awaiting_approval', now());
insert into public.agent_run_steps (id, run_id, position, kind, name, agent_id, started_at, finished_at)
  values ('b0000000-0000-4000-8000-000000000201', 'b0000000-0000-4000-8000-000000000101', 0, 'tool_call',
          'delete_task', 'task_manager', now(), now());
insert into public.agent_run_pauses (run_id, state)
  values ('b0000000-0000-4000-8000-000000000101', '{"version": 1}');
insert into public.agent_run_approvals (id, run_id, position, tool_call_id, tool, agent_id, reason, summary, change)
  values ('b0000000-0000-4000-8000-000000000201', 'b0000000-0000-4000-8000-000000000101', 0, 'call_b',
          'delete_task', 'task_manager', 'delete', 'Delete the task “Bob’s”', '{"operation": "delete"}');

select tests.authenticate_as('alice');
insert into public.conversations (id) values ('a0000000-0000-4000-8000-000000000001');
insert into public.agent_runs (id, conversation_id, agent_id)
  values ('a0000000-0000-4000-8000-000000000101', 'a0000000-0000-4000-8000-000000000001', 'task_manager');

select throws_ok(
  $$ update public.agent_runs set status = 'awaiting_approval' where id = 'a0000000-0000-4000-8000-000000000101' $$,
  '23514', 'new row for relation "agent_runs" violates check constraint "agent_runs_timings_follow_status"',
  'a run waiting for approval has started'
);
select lives_ok(
  $$ update public.agent_runs set status = 'running', started_at = clock_timestamp()
     where id = 'a0000000-0000-4000-8000-000000000101';
     update public.agent_runs set status = 'awaiting_approval' where id = 'a0000000-0000-4000-8000-000000000101' $$,
  'a running run waits for approval'
);
select throws_ok(
  $$ update public.agent_runs set finished_at = clock_timestamp() where id = 'a0000000-0000-4000-8000-000000000101' $$,
  '23514', 'new row for relation "agent_runs" violates check constraint "agent_runs_timings_follow_status"',
  'a waiting run has not finished'
);
select throws_ok(
  $$ update public.agent_runs set error = '{"code": "x", "message": "y"}'
     where id = 'a0000000-0000-4000-8000-000000000101' $$,
  '23514', 'new row for relation "agent_runs" violates check constraint "agent_runs_error_only_when_ended"',
  'only a failed or cancelled run carries an error'
);

insert into public.agent_run_steps (id, run_id, position, kind, name, agent_id, started_at, finished_at)
  values ('a0000000-0000-4000-8000-000000000201', 'a0000000-0000-4000-8000-000000000101', 0, 'tool_call',
          'delete_task', 'task_manager', now(), now());

select lives_ok(
  $$ insert into public.agent_run_pauses (run_id, state)
     values ('a0000000-0000-4000-8000-000000000101', '{"version": 1, "frames": []}');
     insert into public.agent_run_approvals (id, run_id, position, tool_call_id, tool, agent_id, arguments,
                                             reason, summary, change)
     values ('a0000000-0000-4000-8000-000000000201', 'a0000000-0000-4000-8000-000000000101', 0, 'call_a',
             'delete_task', 'task_manager', '{"id": "x"}', 'delete', 'Delete the task “Rent”',
             '{"operation": "delete", "count": 1}') $$,
  'a user keeps a paused run’s state and its proposed change'
);

select throws_ok(
  $$ insert into public.agent_run_approvals (id, run_id, position, tool_call_id, tool, agent_id, reason, summary, change)
     values ('b0000000-0000-4000-8000-000000000201', 'a0000000-0000-4000-8000-000000000101', 1, 'call_x',
             'delete_task', 'task_manager', 'delete', 'x', '{}') $$,
  '23503', 'insert or update on table "agent_run_approvals" violates foreign key constraint "agent_run_approvals_step_fkey"',
  'an approval names a step of the same user'
);
select throws_ok(
  $$ insert into public.agent_run_pauses (run_id, state) values ('b0000000-0000-4000-8000-000000000101', '{}') $$,
  '23503', 'insert or update on table "agent_run_pauses" violates foreign key constraint "agent_run_pauses_run_fkey"',
  'a user cannot keep state for another user''s run'
);
select throws_ok(
  $$ insert into public.agent_run_approvals (id, run_id, position, tool_call_id, tool, agent_id, reason, summary, change)
     values ('a0000000-0000-4000-8000-000000000201', 'a0000000-0000-4000-8000-000000000101', 1, 'call_y',
             'delete_task', 'task_manager', 'because', 'x', '{}') $$,
  '23514', 'new row for relation "agent_run_approvals" violates check constraint "agent_run_approvals_reason"',
  'an approval says why: delete, bulk or write'
);

select is_empty(
  $$ select 1 from public.agent_run_pauses where run_id = 'b0000000-0000-4000-8000-000000000101'
     union all
     select 1 from public.agent_run_approvals where run_id = 'b0000000-0000-4000-8000-000000000101' $$,
  'a user reads none of another user''s paused state or approvals'
);
select is_empty(
  $$ update public.agent_run_approvals set decision = 'approved', decided_at = now()
     where id = 'b0000000-0000-4000-8000-000000000201' returning 1 $$,
  'a user cannot decide another user''s approval'
);
select is_empty(
  $$ delete from public.agent_run_pauses where run_id = 'b0000000-0000-4000-8000-000000000101' returning 1 $$,
  'a user cannot drop another user''s paused state'
);

-- What was proposed stays as proposed; the decision is the user's, once.
select throws_ok(
  $$ update public.agent_run_approvals set arguments = '{"id": "another"}'
     where id = 'a0000000-0000-4000-8000-000000000201' $$,
  '42501', 'permission denied for table agent_run_approvals',
  'a proposed change''s arguments cannot be changed'
);
select throws_ok(
  $$ update public.agent_run_approvals set decision = 'approved' where id = 'a0000000-0000-4000-8000-000000000201' $$,
  '23514', 'new row for relation "agent_run_approvals" violates check constraint "agent_run_approvals_decided_together"',
  'a decision says when'
);
select throws_ok(
  $$ update public.agent_run_approvals set decision = 'maybe', decided_at = now()
     where id = 'a0000000-0000-4000-8000-000000000201' $$,
  '23514', 'new row for relation "agent_run_approvals" violates check constraint "agent_run_approvals_decision"',
  'a decision approves or refuses'
);
select throws_ok(
  $$ update public.agent_run_approvals set outcome = '{"ok": true}' where id = 'a0000000-0000-4000-8000-000000000201' $$,
  '23514', 'new row for relation "agent_run_approvals" violates check constraint "agent_run_approvals_outcome_after_decision"',
  'nothing runs before it is decided'
);
select lives_ok(
  $$ update public.agent_run_approvals set decision = 'refused', note = 'No', decided_at = now()
     where id = 'a0000000-0000-4000-8000-000000000201' $$,
  'the user decides'
);
select throws_ok(
  $$ update public.agent_run_approvals set decision = 'approved' where id = 'a0000000-0000-4000-8000-000000000201' $$,
  '23514', 'This change has already been decided',
  'a decision is made once'
);
select lives_ok(
  $$ update public.agent_run_approvals set outcome = '{"ok": false}' where id = 'a0000000-0000-4000-8000-000000000201' $$,
  'what it answered is recorded'
);
select throws_ok(
  $$ update public.agent_run_approvals set outcome = '{"ok": true}' where id = 'a0000000-0000-4000-8000-000000000201' $$,
  '23514', 'This change has already run',
  'and recorded once'
);
select throws_ok(
  $$ update public.agent_run_pauses set state = '{}' $$,
  '42501', 'permission denied for table agent_run_pauses',
  'a paused run''s state is kept as it was: dropped, never changed'
);

-- A waiting run holds none of its user's runs at once.
select lives_ok(
  $$ select private.check_run_limits(1, 0, interval '60 seconds') $$,
  'a run waiting for approval does not count among the runs at once'
);

select tests.clear_authentication();
select is(
  (select count(*)::int from public.agent_run_approvals where run_id = 'b0000000-0000-4000-8000-000000000101'),
  1, 'bob''s approval is untouched'
);

delete from public.conversations where id = 'a0000000-0000-4000-8000-000000000001';
select is(
  (select count(*)::int from public.agent_run_pauses where run_id = 'a0000000-0000-4000-8000-000000000101')
  + (select count(*)::int from public.agent_run_approvals where run_id = 'a0000000-0000-4000-8000-000000000101'),
  0, 'a run''s state and approvals go with it'
);

select * from finish();
rollback;
