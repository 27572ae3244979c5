-- private.begin_request: the session check and the rate-limit count of every request, in one call.
begin;
select plan(10);

select tests.create_supabase_user('caller');
select tests.create_supabase_user('other');

insert into auth.sessions (id, user_id, created_at, updated_at, not_after) values
  ('b3000000-0000-4000-8000-000000000001', tests.get_supabase_uid('caller'), now(), now(), null),
  ('b3000000-0000-4000-8000-000000000002', tests.get_supabase_uid('caller'), now(), now(), now() - interval '1 minute'),
  ('b3000000-0000-4000-8000-000000000003', tests.get_supabase_uid('other'), now(), now(), null);

select tests.authenticate_as('caller');
select ok(
  private.begin_request('b3000000-0000-4000-8000-000000000001', '203.0.113.9', 5, 5),
  'a live session of one''s own passes'
);
select ok(private.begin_request(null, null, 5, 0), 'a token without a session id is judged by its signature alone');
select throws_ok(
  $$ select private.begin_request('b3000000-0000-4000-8000-000000000002', null, 5, 0) $$,
  'CS401', 'This session has ended; sign in again', 'a session past its not_after raises CS401'
);
select throws_ok(
  $$ select private.begin_request('b3000000-0000-4000-8000-000000000003', null, 5, 0) $$,
  'CS401', null, 'another user''s session raises CS401'
);

select tests.clear_authentication();
select is(
  (select count from private.request_counts where key = 'user:' || tests.get_supabase_uid('caller')),
  2, 'the passing calls counted the user, the refused ones did not'
);
select is(
  (select count from private.request_counts where key = 'address:203.0.113.9'),
  1, 'and the address it was given'
);

select tests.authenticate_as('caller');
select ok(private.begin_request(null, null, 3, 0), 'the third request of the minute is within a limit of 3');
select throws_ok(
  $$ select private.begin_request(null, null, 3, 0) $$,
  'CS429', 'Too many requests; wait before trying again', 'the fourth raises CS429'
);
select lives_ok(
  $$ select private.require_live_session('b3000000-0000-4000-8000-000000000001') $$,
  'require_live_session still checks the session alone (it counts nothing)'
);

select tests.authenticate_as_anon();
select throws_ok(
  $$ select private.begin_request(null, null, 0, 0) $$,
  '42501', null, 'anon may not call it'
);

select * from finish();
rollback;
