-- goals and reflections: private to their user; a goal's parent belongs to the same user;
-- progress stays within 0–100. Alice's rows have ids a…, Bob's b….
begin;
select plan(20);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

select tests.authenticate_as('alice');

select results_eq(
  $$ insert into public.goals (id, title, timeframe) values ('a0000000-0000-4000-8000-000000000001', 'Get fit', 'yearly')
     returning user_id, status, progress $$,
  $$ values (tests.get_supabase_uid('alice'), 'not_started'::public.goal_status, 0) $$,
  'a user creates a goal: theirs, not started, no progress'
);

select lives_ok(
  $$ insert into public.goals (id, parent_goal_id, title, timeframe)
     values ('a0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001', 'Run 5 km', 'monthly') $$,
  'a user adds a sub-goal to their own goal'
);

select lives_ok(
  $$ insert into public.reflections (id, reflection_type, content, mood)
     values ('a0000000-0000-4000-8000-000000000011', 'daily', 'A calm day.', 4) $$,
  'a user writes a reflection'
);

select tests.authenticate_as('bob');

select is_empty($$ select 1 from public.goals $$, 'a user sees none of another user''s goals');
select is_empty($$ select 1 from public.reflections $$, 'a user sees none of another user''s reflections');

select is_empty(
  $$ update public.goals set progress = 100 where id = 'a0000000-0000-4000-8000-000000000001' returning 1 $$,
  'a user cannot change another user''s goal'
);

select is_empty(
  $$ delete from public.reflections where id = 'a0000000-0000-4000-8000-000000000011' returning 1 $$,
  'a user cannot delete another user''s reflection'
);

select throws_ok(
  $$ insert into public.goals (parent_goal_id, title, timeframe)
     values ('a0000000-0000-4000-8000-000000000001', 'Squatter', 'daily') $$,
  '23503', 'insert or update on table "goals" violates foreign key constraint "goals_parent_goal_fkey"',
  'a user cannot add a sub-goal to another user''s goal'
);

select throws_ok(
  $$ insert into public.reflections (user_id, reflection_type, content)
     values (tests.get_supabase_uid('alice'), 'freeform', 'Planted') $$,
  '42501', 'new row violates row-level security policy for table "reflections"',
  'a user cannot write a reflection for another user'
);

select tests.authenticate_as('alice');

select results_eq(
  $$ select progress from public.goals where id = 'a0000000-0000-4000-8000-000000000001' $$,
  $$ values (0) $$,
  'the other user''s attempts changed nothing'
);

select results_eq(
  $$ update public.goals set progress = 100, status = 'completed' where id = 'a0000000-0000-4000-8000-000000000002'
     returning progress, updated_at > created_at $$,
  $$ values (100, true) $$,
  'a user updates their own goal, and updated_at moves'
);

select throws_ok(
  $$ update public.goals set progress = 101 where id = 'a0000000-0000-4000-8000-000000000001' $$,
  '23514', 'new row for relation "goals" violates check constraint "goals_progress_range"',
  'progress is at most 100'
);

select throws_ok(
  $$ update public.goals set progress = -1 where id = 'a0000000-0000-4000-8000-000000000001' $$,
  '23514', 'new row for relation "goals" violates check constraint "goals_progress_range"',
  'progress is at least 0'
);

select throws_ok(
  $$ insert into public.goals (title, timeframe) values ('Someday', 'decade') $$,
  '22P02', 'invalid input value for enum goal_timeframe: "decade"',
  'a goal''s timeframe is one of the enum''s values'
);

select throws_ok(
  $$ insert into public.reflections (reflection_type, content, mood) values ('daily', 'Meh.', 6) $$,
  '23514', 'new row for relation "reflections" violates check constraint "reflections_mood_range"',
  'mood is between 1 and 5'
);

delete from public.goals where id = 'a0000000-0000-4000-8000-000000000001';
select results_eq(
  $$ select id, parent_goal_id from public.goals $$,
  $$ values ('a0000000-0000-4000-8000-000000000002'::uuid, null::uuid) $$,
  'deleting a goal keeps its sub-goals, now without a parent'
);

select results_eq(
  $$ delete from public.reflections where id = 'a0000000-0000-4000-8000-000000000011' returning id $$,
  $$ values ('a0000000-0000-4000-8000-000000000011'::uuid) $$,
  'a user deletes their own reflection'
);

select tests.authenticate_as_anon();

select throws_ok(
  $$ select * from public.goals $$,
  '42501', 'permission denied for table goals',
  'anon cannot read goals'
);

select throws_ok(
  $$ select * from public.reflections $$,
  '42501', 'permission denied for table reflections',
  'anon cannot read reflections'
);

select throws_ok(
  $$ insert into public.goals (user_id, title, timeframe) values (tests.get_supabase_uid('bob'), 'anon', 'daily') $$,
  '42501', 'permission denied for table goals',
  'anon cannot create goals'
);

select * from finish();
rollback;
