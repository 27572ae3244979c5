-- Goals: a parent's timeframe is at least as long as its sub-goals', and no cycles.
begin;
select plan(7);

select tests.create_supabase_user('alice');
select tests.authenticate_as('alice');

insert into public.goals (id, title, timeframe) values ('a0000000-0000-4000-8000-000000000001', 'Month', 'monthly');

select throws_ok(
  $$ insert into public.goals (title, timeframe, parent_goal_id)
     values ('Year', 'yearly', 'a0000000-0000-4000-8000-000000000001') $$,
  '23514', 'A goal''s parent must have a timeframe at least as long as its own',
  'a sub-goal cannot be longer than its parent'
);

select lives_ok(
  $$ insert into public.goals (id, title, timeframe, parent_goal_id)
     values ('a0000000-0000-4000-8000-000000000002', 'Also a month', 'monthly', 'a0000000-0000-4000-8000-000000000001') $$,
  'a sub-goal may have its parent''s timeframe'
);

select lives_ok(
  $$ insert into public.goals (id, title, timeframe, parent_goal_id)
     values ('a0000000-0000-4000-8000-000000000003', 'A day', 'daily', 'a0000000-0000-4000-8000-000000000002') $$,
  'a sub-goal may be shorter'
);

select throws_ok(
  $$ update public.goals set timeframe = 'weekly' where id = 'a0000000-0000-4000-8000-000000000001' $$,
  '23514', 'A goal''s timeframe must be at least as long as each of its sub-goals''',
  'a parent cannot shrink below its sub-goals'
);

select throws_ok(
  $$ update public.goals set timeframe = 'yearly' where id = 'a0000000-0000-4000-8000-000000000003' $$,
  '23514', 'A goal''s parent must have a timeframe at least as long as its own',
  'a sub-goal cannot grow past its parent'
);

select throws_ok(
  $$ update public.goals set parent_goal_id = 'a0000000-0000-4000-8000-000000000002'
     where id = 'a0000000-0000-4000-8000-000000000001' $$,
  '23514', 'A goal cannot be a sub-goal of itself or of one of its own sub-goals',
  'a goal cannot become a sub-goal of its own sub-goal'
);

select lives_ok(
  $$ update public.goals set timeframe = 'life' where id = 'a0000000-0000-4000-8000-000000000001' $$,
  'a parent may grow'
);

select * from finish();
rollback;
