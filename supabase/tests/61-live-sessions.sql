-- private.session_is_active: a function's request runs only while the token's session lives.
begin;
select plan(6);

select tests.create_supabase_user('walker');
select tests.create_supabase_user('other');

insert into auth.sessions (id, user_id, created_at, updated_at, not_after) values
  ('5e550000-0000-4000-8000-000000000001', tests.get_supabase_uid('walker'), now(), now(), null),
  ('5e550000-0000-4000-8000-000000000002', tests.get_supabase_uid('walker'), now(), now(), now() - interval '1 minute'),
  ('5e550000-0000-4000-8000-000000000003', tests.get_supabase_uid('other'), now(), now(), null);

select tests.authenticate_as('walker');
select ok(private.session_is_active('5e550000-0000-4000-8000-000000000001'), 'a live session of one''s own is active');
select ok(not private.session_is_active('5e550000-0000-4000-8000-000000000002'), 'a session past its not_after is not');
select ok(not private.session_is_active('5e550000-0000-4000-8000-000000000003'), 'another user''s session never answers for you');
select ok(not private.session_is_active('5e550000-0000-4000-8000-0000000000ff'), 'a session that does not exist is not');
select ok(private.session_is_active(null), 'a token without a session id is judged by its signature alone');

select tests.authenticate_as_anon();
select throws_ok(
  $$ select private.session_is_active('5e550000-0000-4000-8000-000000000001') $$,
  '42501', null, 'anon may not ask'
);

select * from finish();
rollback;
