-- Tasks: subtasks without cycles, one task per checklist block naming it, the edited flag, search.
begin;
select plan(9);

select tests.create_supabase_user('alice');
select tests.authenticate_as('alice');

insert into public.notes (id, title) values ('a0000000-0000-4000-8000-00000000000a', 'List');
insert into public.tasks (id, title) values ('a0000000-0000-4000-8000-000000000001', 'a');
insert into public.tasks (id, parent_id, title)
values ('a0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001', 'b');

select throws_ok(
  $$ update public.tasks set parent_id = 'a0000000-0000-4000-8000-000000000002'
     where id = 'a0000000-0000-4000-8000-000000000001' $$,
  '23514', 'A task cannot be a subtask of itself or of one of its own subtasks',
  'a task cannot become a subtask of its own subtask'
);

select lives_ok(
  $$ insert into public.tasks (id, note_id, title, source, source_reference)
     values ('a0000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-00000000000a', 'Milk', 'note',
             '{"note_id": "a0000000-0000-4000-8000-00000000000a", "block_id": "milk"}') $$,
  'a checklist task names its note and block'
);

select throws_ok(
  $$ insert into public.tasks (note_id, title, source, source_reference)
     values ('a0000000-0000-4000-8000-00000000000a', 'Milk again', 'note',
             '{"note_id": "a0000000-0000-4000-8000-00000000000a", "block_id": "milk"}') $$,
  '23505', null,
  'one block has one task'
);

select throws_ok(
  $$ insert into public.tasks (note_id, title, source, source_reference)
     values ('a0000000-0000-4000-8000-00000000000a', 'No block', 'note', '{"note_id": "a0000000-0000-4000-8000-00000000000a"}') $$,
  '23514', null,
  'a checklist task must name its block'
);

select throws_ok(
  $$ insert into public.tasks (title, source, source_reference)
     values ('No note', 'note', '{"block_id": "x"}') $$,
  '23514', null,
  'a checklist task must belong to a note'
);

select throws_ok(
  $$ insert into public.tasks (note_id, title, source, source_reference)
     values ('a0000000-0000-4000-8000-00000000000a', 'Wrong note', 'note',
             '{"note_id": "a0000000-0000-4000-8000-0000000000ff", "block_id": "y"}') $$,
  '23514', null,
  'a checklist task’s reference names the note it belongs to'
);

select is(
  (select edited_by_user from public.tasks where id = 'a0000000-0000-4000-8000-000000000003'),
  false,
  'a task starts unedited'
);

update public.tasks set description = 'Oat milk from the corner shop' where id = 'a0000000-0000-4000-8000-000000000003';

select results_eq(
  $$ select title from public.tasks where search @@ websearch_to_tsquery('simple', 'corner shop') $$,
  $$ values ('Milk'::text) $$,
  'search covers the description'
);

select results_eq(
  $$ select title from public.tasks where search @@ websearch_to_tsquery('simple', 'milk') order by title $$,
  $$ values ('Milk'::text) $$,
  'search covers the title'
);

select * from finish();
rollback;
