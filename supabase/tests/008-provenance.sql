-- Provenance of notes, goals and reflections, as tasks have it (20261201000100_record_provenance.sql):
-- a user's own row is 'manual' with no reference; an agent's names the agent, the run and the message.
begin;
select plan(38);

select enum_has_labels('public', 'record_source', array['manual', 'agent']);

select is_empty(
  $$ select unnest(enum_range(null::public.record_source))::text
     except select unnest(enum_range(null::public.task_source))::text $$,
  'every record source is also a task source, with the same name'
);

select col_type_is('public', t, 'source', 'public', 'record_source', t || '.source is a record_source')
from unnest(array['notes', 'goals', 'reflections']) t;
select col_not_null('public', t, 'source', t || '.source is never null') from unnest(array['notes', 'goals', 'reflections']) t;
select col_default_is('public', t, 'source', 'manual', t || '.source defaults to manual')
from unnest(array['notes', 'goals', 'reflections']) t;
select col_type_is('public', t, 'source_reference', 'jsonb', t || '.source_reference is jsonb')
from unnest(array['notes', 'goals', 'reflections']) t;
select col_hasnt_default('public', t, 'source_reference', t || '.source_reference has no default (null)')
from unnest(array['notes', 'goals', 'reflections']) t;
select col_type_is('public', t, 'edited_by_user', 'boolean', t || '.edited_by_user is a boolean')
from unnest(array['notes', 'goals', 'reflections']) t;
select col_not_null('public', t, 'edited_by_user', t || '.edited_by_user is never null')
from unnest(array['notes', 'goals', 'reflections']) t;
select col_default_is('public', t, 'edited_by_user', 'false', t || '.edited_by_user defaults to false')
from unnest(array['notes', 'goals', 'reflections']) t;

select tests.create_supabase_user('alice');
select tests.authenticate_as('alice');

select results_eq(
  $$ insert into public.notes (title) values ('Mine') returning source, source_reference, edited_by_user $$,
  $$ values ('manual'::public.record_source, null::jsonb, false) $$,
  'a note made without provenance is the user''s own, unedited'
);
select results_eq(
  $$ insert into public.goals (title, timeframe) values ('Mine', 'yearly')
     returning source, source_reference, edited_by_user $$,
  $$ values ('manual'::public.record_source, null::jsonb, false) $$,
  'a goal made without provenance is the user''s own, unedited'
);
select results_eq(
  $$ insert into public.reflections (reflection_type, content) values ('daily', 'Mine')
     returning source, source_reference, edited_by_user $$,
  $$ values ('manual'::public.record_source, null::jsonb, false) $$,
  'a reflection made without provenance is the user''s own, unedited'
);

select lives_ok(
  $$ insert into public.notes (title, source, source_reference) values ('By an agent', 'agent',
       '{"agent_id": "task-manager", "run_id": "0c1a2b3c-0000-4000-8000-000000000001",
         "message_id": "0c1a2b3c-0000-4000-8000-000000000002"}') $$,
  'an agent''s note names the agent, the run and the message'
);
select lives_ok(
  $$ insert into public.goals (title, timeframe, source, source_reference) values ('By an agent', 'weekly', 'agent',
       '{"agent_id": "goal-coach", "run_id": "r", "message_id": "m", "tool_call_id": "call_1"}') $$,
  'an agent''s goal may carry more than the three keys'
);
select lives_ok(
  $$ insert into public.reflections (reflection_type, content, source, source_reference) values ('daily', 'By an agent',
       'agent', '{"agent_id": "reflection-coach", "run_id": "r", "message_id": "m"}') $$,
  'an agent''s reflection names the agent, the run and the message'
);

select throws_ok(
  $$ insert into public.notes (title, source) values ('Whose?', 'agent') $$,
  '23514', 'new row for relation "notes" violates check constraint "notes_source_reference_names_the_agent"',
  'an agent''s note without a reference is refused'
);
select throws_ok(
  $$ insert into public.goals (title, timeframe, source, source_reference)
     values ('Whose?', 'weekly', 'agent', '{"agent_id": "goal-coach", "run_id": "r"}') $$,
  '23514', 'new row for relation "goals" violates check constraint "goals_source_reference_names_the_agent"',
  'an agent''s goal without its message is refused'
);
select throws_ok(
  $$ insert into public.reflections (reflection_type, content, source, source_reference)
     values ('daily', 'Whose?', 'agent', '{"agent_id": 7, "run_id": "r", "message_id": "m"}') $$,
  '23514',
  'new row for relation "reflections" violates check constraint "reflections_source_reference_names_the_agent"',
  'an agent''s reference names the agent by its id, a string'
);
select throws_ok(
  $$ insert into public.notes (title, source_reference) values ('Mine', '{"agent_id": "planner"}') $$,
  '23514', 'new row for relation "notes" violates check constraint "notes_source_reference_names_the_agent"',
  'a user''s own note has no reference'
);
select throws_ok(
  $$ insert into public.reflections (reflection_type, content, source) values ('daily', 'Hm', 'note') $$,
  '22P02', 'invalid input value for enum record_source: "note"',
  'only tasks come from a note'
);

select results_eq(
  $$ update public.notes set edited_by_user = true where title = 'By an agent'
     returning source, source_reference ->> 'agent_id', edited_by_user $$,
  $$ values ('agent'::public.record_source, 'task-manager', true) $$,
  'a user''s edit of an agent''s note keeps who made it and records the edit'
);

select * from finish();
rollback;
