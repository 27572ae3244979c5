-- agent_run_actions: the trace of an agent's changes, written by a trigger in the change's own
-- transaction when the settings name a run of the signed-in user; read by its user only, written
-- by nobody directly; and private.undo_agent_run, which takes a run's changes back newest first.
-- Alice's rows have ids a…, Bob's b….
begin;
select plan(28);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

select policies_are('public', 'agent_run_actions', array['Users can read the actions of their own runs']);

select is_empty(
  $$ select c.relname from pg_trigger t join pg_class c on c.oid = t.tgrelid
     where t.tgname = 'record_agent_changes'
       and (t.tgnargs <> (select count(*) from pg_attribute a
                          where a.attrelid = c.oid and a.attgenerated <> '' and not a.attisdropped)
            or exists (select 1 from pg_attribute a
                       where a.attrelid = c.oid and a.attgenerated <> '' and not a.attisdropped
                         and position(quote_literal(a.attname) in pg_get_triggerdef(t.oid)) = 0))
     union all
     select t.relname from (values ('notes'), ('tasks'), ('goals'), ('reflections')) t (relname)
     where not exists (select 1 from pg_trigger g where g.tgname = 'record_agent_changes'
                       and g.tgrelid = ('public.' || t.relname)::regclass) $$,
  'notes, tasks, goals and reflections are traced, each trigger naming its table''s generated columns'
);

-- Bob has a run with one traced change.
select tests.authenticate_as('bob');
insert into public.conversations (id) values ('b0000000-0000-4000-8000-000000000001');
insert into public.agent_runs (id, conversation_id, agent_id)
  values ('b0000000-0000-4000-8000-000000000101', 'b0000000-0000-4000-8000-000000000001', 'task_manager');
select set_config('consilium.agent_run_id', 'b0000000-0000-4000-8000-000000000101', true);
insert into public.tasks (id, title) values ('b0000000-0000-4000-8000-000000000201', 'Bob''s task');
select set_config('consilium.agent_run_id', '', true);

select tests.authenticate_as('alice');
insert into public.conversations (id) values ('a0000000-0000-4000-8000-000000000001');
insert into public.agent_runs (id, conversation_id, agent_id)
  values ('a0000000-0000-4000-8000-000000000101', 'a0000000-0000-4000-8000-000000000001', 'task_manager');

-- The user's own edits are not traced.
insert into public.tasks (id, title) values ('a0000000-0000-4000-8000-000000000200', 'Alice''s own');
update public.tasks set title = 'Alice''s own, renamed' where id = 'a0000000-0000-4000-8000-000000000200';
select is(
  (select count(*)::int from public.agent_run_actions), 0,
  'a user''s own inserts and updates are not traced'
);

-- Nobody writes the trace directly.
select throws_ok(
  $$ insert into public.agent_run_actions (user_id, run_id, table_name, row_id, operation, after)
     values (auth.uid(), 'a0000000-0000-4000-8000-000000000101', 'tasks', gen_random_uuid(), 'insert', '{}') $$,
  '42501', 'permission denied for table agent_run_actions', 'a user cannot write an action'
);

-- Settings that name another user's run are refused, and nothing is changed or traced.
select set_config('consilium.agent_run_id', 'b0000000-0000-4000-8000-000000000101', true);
select throws_ok(
  $$ insert into public.tasks (title) values ('forged') $$,
  '42501', 'An agent''s change must name a run of the signed-in user',
  'a change cannot be traced under another user''s run'
);
select set_config('consilium.agent_run_id', 'a0000000-0000-4000-8000-000000000909', true);
select throws_ok(
  $$ insert into public.tasks (title) values ('forged') $$,
  '42501', 'An agent''s change must name a run of the signed-in user',
  'a change cannot be traced under a run that does not exist'
);

-- Alice's agent works: creates, updates, deletes; a step per tool call.
select set_config('consilium.agent_run_id', 'a0000000-0000-4000-8000-000000000101', true);
select set_config('consilium.agent_step_id', 'a0000000-0000-4000-8000-000000000301', true);
insert into public.tasks (id, title) values ('a0000000-0000-4000-8000-000000000201', 'Buy milk');
insert into public.notes (id, title, content) values ('a0000000-0000-4000-8000-000000000401', 'Groceries', '[]');
insert into public.goals (id, title, timeframe) values ('a0000000-0000-4000-8000-000000000501', 'Run 5k', 'monthly');
insert into public.reflections (id, reflection_type, content)
  values ('a0000000-0000-4000-8000-000000000601', 'daily', 'A calm day');
select set_config('consilium.agent_step_id', 'a0000000-0000-4000-8000-000000000302', true);
update public.tasks set priority = 'high' where id = 'a0000000-0000-4000-8000-000000000200';
delete from public.reflections where id = 'a0000000-0000-4000-8000-000000000601';

select results_eq(
  $$ select table_name, row_id, operation, step_id from public.agent_run_actions order by seq $$,
  $$ values ('tasks', 'a0000000-0000-4000-8000-000000000201'::uuid, 'insert', 'a0000000-0000-4000-8000-000000000301'::uuid),
            ('notes', 'a0000000-0000-4000-8000-000000000401'::uuid, 'insert', 'a0000000-0000-4000-8000-000000000301'::uuid),
            ('goals', 'a0000000-0000-4000-8000-000000000501'::uuid, 'insert', 'a0000000-0000-4000-8000-000000000301'::uuid),
            ('reflections', 'a0000000-0000-4000-8000-000000000601'::uuid, 'insert', 'a0000000-0000-4000-8000-000000000301'::uuid),
            ('tasks', 'a0000000-0000-4000-8000-000000000200'::uuid, 'update', 'a0000000-0000-4000-8000-000000000302'::uuid),
            ('reflections', 'a0000000-0000-4000-8000-000000000601'::uuid, 'delete', 'a0000000-0000-4000-8000-000000000302'::uuid) $$,
  'every insert, update and delete of the agent is traced with its run and tool call, in order; Alice sees only hers'
);

select is(
  (select array[before ->> 'priority', after ->> 'priority', after ->> 'title']
   from public.agent_run_actions where operation = 'update'),
  array['medium', 'high', 'Alice''s own, renamed'],
  'an update keeps the row before and after'
);
select ok(
  (select before is null and after ->> 'title' = 'Buy milk' and not after ? 'search'
   from public.agent_run_actions where operation = 'insert' and table_name = 'tasks'),
  'an insert keeps the row after (without generated columns), and no row before'
);
select ok(
  (select after is null and before ->> 'content' = 'A calm day'
   from public.agent_run_actions where operation = 'delete'),
  'a delete keeps the row before, and no row after'
);

-- Cascades: deleting a note takes its checklist tasks (and sub-notes) with it, each traced first.
select set_config('consilium.agent_run_id', '', true);
insert into public.notes (id, title, content) values ('a0000000-0000-4000-8000-000000000402', 'Trip',
  '[{"id": "k1", "type": "checkListItem", "props": {"checked": false}, "content": [{"type": "text", "text": "Pack", "styles": {}}], "children": []}]');
insert into public.notes (id, parent_id, title) values ('a0000000-0000-4000-8000-000000000403',
  'a0000000-0000-4000-8000-000000000402', 'Trip: packing list');
insert into public.tasks (id, note_id, title, source, source_reference)
  values ('a0000000-0000-4000-8000-000000000202', 'a0000000-0000-4000-8000-000000000402', 'Pack', 'note',
          '{"note_id": "a0000000-0000-4000-8000-000000000402", "block_id": "k1"}');
select set_config('consilium.agent_run_id', 'a0000000-0000-4000-8000-000000000101', true);
select set_config('consilium.agent_step_id', 'a0000000-0000-4000-8000-000000000303', true);
delete from public.notes where id = 'a0000000-0000-4000-8000-000000000402';

select results_eq(
  $$ select table_name, row_id from public.agent_run_actions
     where step_id = 'a0000000-0000-4000-8000-000000000303' order by seq $$,
  $$ values ('notes', 'a0000000-0000-4000-8000-000000000402'::uuid),
            ('notes', 'a0000000-0000-4000-8000-000000000403'::uuid),
            ('tasks', 'a0000000-0000-4000-8000-000000000202'::uuid) $$,
  'a cascade is traced: the note, then the sub-note and the checklist task it took along'
);

-- After the run: the user edits one of the agent's rows, and gives another a subtask.
select set_config('consilium.agent_run_id', '', true);
select set_config('consilium.agent_step_id', '', true);
update public.goals set progress = 40 where id = 'a0000000-0000-4000-8000-000000000501';
insert into public.tasks (id, parent_id, title)
  values ('a0000000-0000-4000-8000-000000000203', 'a0000000-0000-4000-8000-000000000201', 'Oat milk');
select is(
  (select count(*)::int from public.agent_run_actions), 9,
  'the user''s edits after the run are not traced'
);

-- The undo, as Alice under her RLS.
select set_config('tests.undo_outcome', private.undo_agent_run('a0000000-0000-4000-8000-000000000101')::text, true);

select is(
  jsonb_array_length(current_setting('tests.undo_outcome')::jsonb -> 'reverted'), 7,
  'the changes whose rows are as the run left them are taken back'
);
select results_eq(
  $$ select s ->> 'table_name', s ->> 'row_id', s ->> 'operation', s ->> 'reason'
     from jsonb_array_elements(current_setting('tests.undo_outcome')::jsonb -> 'skipped') s $$,
  $$ values ('goals', 'a0000000-0000-4000-8000-000000000501', 'insert', 'The row was changed after the run created it'),
            ('tasks', 'a0000000-0000-4000-8000-000000000201', 'insert',
             'Taking this change back would also change tasks/a0000000-0000-4000-8000-000000000203, which the run did not change') $$,
  'a row changed since, and one whose undo would cascade to a row the run did not make, are skipped with the reason'
);
select is(
  (select array[title, priority::text] from public.tasks where id = 'a0000000-0000-4000-8000-000000000200'),
  array['Alice''s own, renamed', 'medium'],
  'an updated row gets its columns back'
);
select ok(
  not exists (select 1 from public.reflections where id = 'a0000000-0000-4000-8000-000000000601')
  and not exists (select 1 from public.notes where id = 'a0000000-0000-4000-8000-000000000401'),
  'a created then deleted reflection is gone again; a created note is deleted'
);
select results_eq(
  $$ select n.title, n.parent_id from public.notes n
     where n.id in ('a0000000-0000-4000-8000-000000000402', 'a0000000-0000-4000-8000-000000000403') order by n.title $$,
  $$ values ('Trip'::text, null::uuid), ('Trip: packing list', 'a0000000-0000-4000-8000-000000000402'::uuid) $$,
  'a deleted note comes back with its id, and its sub-note under it'
);
select results_eq(
  $$ select id, title, source::text, note_id from public.tasks where note_id = 'a0000000-0000-4000-8000-000000000402' $$,
  $$ values ('a0000000-0000-4000-8000-000000000202'::uuid, 'Pack'::text, 'note'::text, 'a0000000-0000-4000-8000-000000000402'::uuid) $$,
  'and its checklist task, with its id'
);
select ok(
  exists (select 1 from public.goals where id = 'a0000000-0000-4000-8000-000000000501' and progress = 40)
  and exists (select 1 from public.tasks where id = 'a0000000-0000-4000-8000-000000000203'),
  'the skipped rows, and the user''s subtask, are left as they are'
);
select is(
  (select count(*)::int from public.agent_run_actions where undone_at is not null), 7,
  'the changes taken back are marked undone'
);
select is(
  (select count(*)::int from public.agent_run_actions), 9,
  'taking back is not itself traced'
);
select is(
  (select private.undo_agent_run('a0000000-0000-4000-8000-000000000101') -> 'reverted'),
  '[]'::jsonb,
  'a second pass takes back nothing more'
);

-- Another user's run: nothing of it is visible, and nothing of it is taken back.
select tests.authenticate_as('alice');
select is(
  (select private.undo_agent_run('b0000000-0000-4000-8000-000000000101')),
  '{"reverted": [], "skipped": []}'::jsonb,
  'undoing another user''s run finds none of its actions'
);
select tests.clear_authentication();
select ok(
  exists (select 1 from public.tasks where id = 'b0000000-0000-4000-8000-000000000201')
  and (select undone_at is null from public.agent_run_actions where run_id = 'b0000000-0000-4000-8000-000000000101'),
  'bob''s traced change stands'
);

select tests.authenticate_as('bob');
select throws_ok(
  $$ update public.agent_run_actions set before = '{}' $$,
  '42501', 'permission denied for table agent_run_actions', 'a user cannot change an action'
);
select throws_ok(
  $$ delete from public.agent_run_actions $$,
  '42501', 'permission denied for table agent_run_actions', 'a user cannot delete an action'
);

select tests.clear_authentication();
delete from public.conversations where id = 'a0000000-0000-4000-8000-000000000001';
select is(
  (select count(*)::int from public.agent_run_actions where run_id = 'a0000000-0000-4000-8000-000000000101'),
  0, 'actions go with their run'
);

select tests.authenticate_as_anon();
select throws_ok(
  $$ select 1 from public.agent_run_actions $$,
  '42501', 'permission denied for table agent_run_actions', 'anon reads no action'
);

select * from finish();
rollback;
