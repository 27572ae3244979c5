-- notes: private to their user; a note's parent is a note of the same user; subtrees go together.
-- Alice's notes have ids a…, Bob's b….
begin;
select plan(20);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

select tests.authenticate_as('alice');

select results_eq(
  $$ insert into public.notes (id, title, content)
     values ('a0000000-0000-4000-8000-000000000001', 'Groceries', '[{"id": "b1", "type": "paragraph"}]')
     returning user_id $$,
  $$ values (tests.get_supabase_uid('alice')) $$,
  'a user creates a note, which is theirs by default'
);

select lives_ok(
  $$ insert into public.notes (id, parent_id, title)
     values ('a0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001', 'Dairy') $$,
  'a user nests a note under their own note'
);

select tests.authenticate_as('bob');

select lives_ok(
  $$ insert into public.notes (id, title) values ('b0000000-0000-4000-8000-000000000001', 'Bob''s note') $$,
  'another user creates their own note'
);

select results_eq(
  $$ select id from public.notes $$,
  $$ values ('b0000000-0000-4000-8000-000000000001'::uuid) $$,
  'a user sees only their own notes'
);

select is_empty(
  $$ update public.notes set title = 'Hacked' where id = 'a0000000-0000-4000-8000-000000000001' returning 1 $$,
  'a user cannot change another user''s note'
);

select is_empty(
  $$ delete from public.notes where id = 'a0000000-0000-4000-8000-000000000001' returning 1 $$,
  'a user cannot delete another user''s note'
);

select throws_ok(
  $$ insert into public.notes (user_id, title) values (tests.get_supabase_uid('alice'), 'Planted') $$,
  '42501', 'new row violates row-level security policy for table "notes"',
  'a user cannot create a note for another user'
);

select throws_ok(
  $$ update public.notes set user_id = tests.get_supabase_uid('alice') where id = 'b0000000-0000-4000-8000-000000000001' $$,
  '42501', 'new row violates row-level security policy for table "notes"',
  'a user cannot give their note to another user'
);

select throws_ok(
  $$ insert into public.notes (parent_id, title) values ('a0000000-0000-4000-8000-000000000001', 'Squatter') $$,
  '23503', 'insert or update on table "notes" violates foreign key constraint "notes_parent_fkey"',
  'a user cannot nest a note under another user''s note'
);

select throws_ok(
  $$ update public.notes set parent_id = 'a0000000-0000-4000-8000-000000000001'
     where id = 'b0000000-0000-4000-8000-000000000001' $$,
  '23503', 'insert or update on table "notes" violates foreign key constraint "notes_parent_fkey"',
  'a user cannot move their note under another user''s note'
);

select throws_ok(
  $$ truncate public.notes $$,
  '42501', 'permission denied for table notes',
  'a user cannot truncate notes'
);

select tests.authenticate_as('alice');

select results_eq(
  $$ select id, title from public.notes order by id $$,
  $$ values ('a0000000-0000-4000-8000-000000000001'::uuid, 'Groceries'),
            ('a0000000-0000-4000-8000-000000000002'::uuid, 'Dairy') $$,
  'the other user''s attempts changed nothing'
);

select results_eq(
  $$ update public.notes set is_pinned = true where id = 'a0000000-0000-4000-8000-000000000001'
     returning is_pinned, updated_at > created_at $$,
  $$ values (true, true) $$,
  'a user updates their own note, and updated_at moves'
);

select throws_ok(
  $$ insert into public.notes (id, parent_id)
     values ('a0000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-000000000003') $$,
  '23514', 'new row for relation "notes" violates check constraint "notes_not_own_parent"',
  'a note cannot be its own parent'
);

select throws_ok(
  $$ update public.notes set content = '{"type": "paragraph"}' where id = 'a0000000-0000-4000-8000-000000000001' $$,
  '23514', 'new row for relation "notes" violates check constraint "notes_content_is_array"',
  'a note''s content is an array of blocks'
);

select throws_ok(
  $$ update public.notes set content = jsonb_build_array(repeat('x', 1048576))
     where id = 'a0000000-0000-4000-8000-000000000001' $$,
  '23514', 'new row for relation "notes" violates check constraint "notes_content_max_1_mib"',
  'a note''s content is at most 1 MiB'
);

select results_eq(
  $$ delete from public.notes where id = 'a0000000-0000-4000-8000-000000000001' returning id $$,
  $$ values ('a0000000-0000-4000-8000-000000000001'::uuid) $$,
  'a user deletes their own note'
);

select is_empty(
  $$ select id from public.notes where id = 'a0000000-0000-4000-8000-000000000002' $$,
  'deleting a note deletes the notes under it'
);

select tests.authenticate_as_anon();

select throws_ok(
  $$ select * from public.notes $$,
  '42501', 'permission denied for table notes',
  'anon cannot read notes'
);

select throws_ok(
  $$ insert into public.notes (user_id, title) values (tests.get_supabase_uid('bob'), 'anon') $$,
  '42501', 'permission denied for table notes',
  'anon cannot create notes'
);

select * from finish();
rollback;
