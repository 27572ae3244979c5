-- private.require_live_session: the one-statement request path's check raises, so the transaction aborts.
begin;
select plan(6);

select tests.create_supabase_user('leaver');
select tests.create_supabase_user('stranger');

insert into auth.sessions (id, user_id, created_at, updated_at, not_after) values
  ('5e551000-0000-4000-8000-000000000001', tests.get_supabase_uid('leaver'), now(), now(), null),
  ('5e551000-0000-4000-8000-000000000002', tests.get_supabase_uid('leaver'), now(), now(), now() - interval '1 minute'),
  ('5e551000-0000-4000-8000-000000000003', tests.get_supabase_uid('stranger'), now(), now(), null);

select tests.authenticate_as('leaver');
select ok(private.require_live_session('5e551000-0000-4000-8000-000000000001'), 'a live session of one''s own passes');
select ok(private.require_live_session(null), 'a token without a session id is judged by its signature alone');
select throws_ok(
  $$ select private.require_live_session('5e551000-0000-4000-8000-000000000002') $$,
  'CS401', 'This session has ended; sign in again', 'a session past its not_after raises CS401'
);
select throws_ok(
  $$ select private.require_live_session('5e551000-0000-4000-8000-000000000003') $$,
  'CS401', null, 'another user''s session raises'
);
select throws_ok(
  $$ select private.require_live_session('5e551000-0000-4000-8000-0000000000ff') $$,
  'CS401', null, 'a session that does not exist raises'
);

select tests.authenticate_as_anon();
select throws_ok(
  $$ select private.require_live_session('5e551000-0000-4000-8000-000000000001') $$,
  '42501', null, 'anon may not call it'
);

select * from finish();
rollback;
