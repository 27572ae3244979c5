-- tasks: private to their user; a task's parent and note belong to the same user; field rules.
-- Alice's rows have ids a…, Bob's b….
begin;
select plan(21);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

select tests.authenticate_as('alice');

insert into public.notes (id, title) values ('a0000000-0000-4000-8000-00000000000a', 'Plans');

select results_eq(
  $$ insert into public.tasks (id, title) values ('a0000000-0000-4000-8000-000000000001', 'Call mum')
     returning user_id, status, priority, source, completed_at $$,
  $$ values (tests.get_supabase_uid('alice'), 'todo'::public.task_status, 'medium'::public.task_priority,
             'manual'::public.task_source, null::timestamptz) $$,
  'a user creates a task: theirs, todo, medium priority, typed by hand'
);

select lives_ok(
  $$ insert into public.tasks (id, parent_id, title)
     values ('a0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001', 'Find the number') $$,
  'a user adds a subtask to their own task'
);

select lives_ok(
  $$ insert into public.tasks (id, note_id, title, source, source_reference)
     values ('a0000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-00000000000a', 'Book flights', 'note',
             '{"note_id": "a0000000-0000-4000-8000-00000000000a", "block_id": "block-1"}') $$,
  'a user links a task to their own note'
);

select tests.authenticate_as('bob');

insert into public.tasks (id, title) values ('b0000000-0000-4000-8000-000000000001', 'Bob''s task');

select results_eq(
  $$ select id from public.tasks $$,
  $$ values ('b0000000-0000-4000-8000-000000000001'::uuid) $$,
  'a user sees only their own tasks'
);

select is_empty(
  $$ update public.tasks set status = 'done', completed_at = now()
     where id = 'a0000000-0000-4000-8000-000000000001' returning 1 $$,
  'a user cannot change another user''s task'
);

select is_empty(
  $$ delete from public.tasks where id = 'a0000000-0000-4000-8000-000000000001' returning 1 $$,
  'a user cannot delete another user''s task'
);

select throws_ok(
  $$ insert into public.tasks (user_id, title) values (tests.get_supabase_uid('alice'), 'Planted') $$,
  '42501', 'new row violates row-level security policy for table "tasks"',
  'a user cannot create a task for another user'
);

select throws_ok(
  $$ insert into public.tasks (parent_id, title) values ('a0000000-0000-4000-8000-000000000001', 'Squatter') $$,
  '23503', 'insert or update on table "tasks" violates foreign key constraint "tasks_parent_fkey"',
  'a user cannot add a subtask to another user''s task'
);

select throws_ok(
  $$ update public.tasks set note_id = 'a0000000-0000-4000-8000-00000000000a'
     where id = 'b0000000-0000-4000-8000-000000000001' $$,
  '23503', 'insert or update on table "tasks" violates foreign key constraint "tasks_note_fkey"',
  'a user cannot link their task to another user''s note'
);

select tests.authenticate_as('alice');

select results_eq(
  $$ select id, status from public.tasks order by id $$,
  $$ values ('a0000000-0000-4000-8000-000000000001'::uuid, 'todo'::public.task_status),
            ('a0000000-0000-4000-8000-000000000002'::uuid, 'todo'::public.task_status),
            ('a0000000-0000-4000-8000-000000000003'::uuid, 'todo'::public.task_status) $$,
  'the other user''s attempts changed nothing'
);

select results_eq(
  $$ update public.tasks set status = 'done', completed_at = now(), due_date = '2026-12-01', due_time = '09:30'
     where id = 'a0000000-0000-4000-8000-000000000001' returning status, due_time, updated_at > created_at $$,
  $$ values ('done'::public.task_status, '09:30'::time, true) $$,
  'a user updates their own task, and updated_at moves'
);

select throws_ok(
  $$ insert into public.tasks (title, due_time) values ('Stretch', '07:00') $$,
  '23514', 'new row for relation "tasks" violates check constraint "tasks_due_time_needs_due_date"',
  'a due time needs a due date'
);

select lives_ok(
  $$ insert into public.tasks (title, due_date) values ('Stretch', '2026-12-02') $$,
  'a due date needs no due time'
);

select throws_ok(
  $$ insert into public.tasks (title, status, completed_at) values ('Half done', 'in_progress', now()) $$,
  '23514', 'new row for relation "tasks" violates check constraint "tasks_completed_at_only_when_done"',
  'only a done task has a completion time'
);

select throws_ok(
  $$ insert into public.tasks (title) values ('') $$,
  '23514', 'new row for relation "tasks" violates check constraint "tasks_title_length"',
  'a task has a title'
);

select throws_ok(
  $$ insert into public.tasks (title, status) values ('Wait', 'blocked') $$,
  '22P02', 'invalid input value for enum task_status: "blocked"',
  'a task''s status is one of the enum''s values'
);

select throws_ok(
  $$ insert into public.tasks (id, parent_id, title)
     values ('a0000000-0000-4000-8000-000000000004', 'a0000000-0000-4000-8000-000000000004', 'Loop') $$,
  '23514', 'new row for relation "tasks" violates check constraint "tasks_not_own_parent"',
  'a task cannot be its own parent'
);

delete from public.tasks where id = 'a0000000-0000-4000-8000-000000000001';
select is_empty(
  $$ select 1 from public.tasks where id = 'a0000000-0000-4000-8000-000000000002' $$,
  'deleting a task deletes its subtasks'
);

delete from public.notes where id = 'a0000000-0000-4000-8000-00000000000a';
select is_empty(
  $$ select 1 from public.tasks where id = 'a0000000-0000-4000-8000-000000000003' $$,
  'deleting a note deletes the tasks that mirror its checklist'
);

select tests.authenticate_as_anon();

select throws_ok(
  $$ select * from public.tasks $$,
  '42501', 'permission denied for table tasks',
  'anon cannot read tasks'
);

select throws_ok(
  $$ update public.tasks set title = 'anon' $$,
  '42501', 'permission denied for table tasks',
  'anon cannot change tasks'
);

select * from finish();
rollback;
