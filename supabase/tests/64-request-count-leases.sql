-- private.begin_request with leases: counts taken a few at a time, never past the limit, the session
-- checked on every call (docs/adr/0038-request-count-leases.md).
begin;
select plan(15);

select tests.create_supabase_user('leaser');

insert into auth.sessions (id, user_id, created_at, updated_at, not_after) values
  ('b4000000-0000-4000-8000-000000000001', tests.get_supabase_uid('leaser'), now(), now(), null),
  ('b4000000-0000-4000-8000-000000000002', tests.get_supabase_uid('leaser'), now(), now(), now() - interval '1 minute');

select tests.authenticate_as('leaser');
select is(
  private.begin_request('b4000000-0000-4000-8000-000000000001', '198.51.100.7', 25, 100, 10, 4, (extract(epoch from date_trunc('minute', now())) / 60)::integer),
  array[9, 3, (extract(epoch from date_trunc('minute', now())) / 60)::integer],
  'a lease of 10 leaves 9 more requests to serve, of 4 for the address 3, in this minute'
);
select is(
  private.begin_request('b4000000-0000-4000-8000-000000000001', '198.51.100.7', 25, 100, 0, 0, (extract(epoch from date_trunc('minute', now())) / 60)::integer),
  array[0, 0, (extract(epoch from date_trunc('minute', now())) / 60)::integer],
  'a request served from a lease counts nothing'
);
select throws_ok(
  $$ select private.begin_request('b4000000-0000-4000-8000-000000000002', null, 25, 0, 0, 0, (extract(epoch from date_trunc('minute', now())) / 60)::integer) $$,
  'CS401', 'This session has ended; sign in again',
  'an ended session raises CS401 even when the request is served from a lease'
);

select tests.clear_authentication();
select is(
  (select count from private.request_counts where key = 'user:' || tests.get_supabase_uid('leaser')),
  10, 'the lease was counted at once, the request served from it not again'
);
select is(
  (select count from private.request_counts where key = 'address:198.51.100.7'),
  4, 'and the address''s lease'
);

-- 10 of 25 taken: another lease of 10, then one of only the 5 left, then none.
select tests.authenticate_as('leaser');
select is(
  (private.begin_request(null, null, 25, 0, 10, 0, (extract(epoch from date_trunc('minute', now())) / 60)::integer))[1], 9, 'a second lease of 10 fits within 25'
);
select is(
  (private.begin_request(null, null, 25, 0, 10, 0, (extract(epoch from date_trunc('minute', now())) / 60)::integer))[1], 4,
  'a lease is granted only from what is left: 5 requests, so 4 more after this one'
);
select throws_ok(
  $$ select private.begin_request(null, null, 25, 0, 10, 0, (extract(epoch from date_trunc('minute', now())) / 60)::integer) $$,
  'CS429', 'Too many requests; wait before trying again',
  'once leases have taken the whole limit, the next count is refused'
);
select is(
  (private.begin_request(null, null, 25, 0, 0, 0, (extract(epoch from date_trunc('minute', now())) / 60)::integer))[1], 0,
  'a request served from a lease already granted passes (the instance holds it)'
);

-- A new minute starts a new window, whatever the last one held.
select tests.clear_authentication();
update private.request_counts set window_start = window_start - interval '1 minute'
where key = 'user:' || tests.get_supabase_uid('leaser');
select tests.authenticate_as('leaser');
select is(
  (private.begin_request(null, null, 25, 0, 10, 0, (extract(epoch from date_trunc('minute', now())) / 60)::integer))[1], 9, 'the next minute grants a full lease again'
);

select ok(
  private.begin_request(null, null, 0, 0, 10, 10, (extract(epoch from date_trunc('minute', now())) / 60)::integer) = array[0, 0, (extract(epoch from date_trunc('minute', now())) / 60)::integer],
  'with the limits off nothing is counted or leased'
);

-- A lease held for another minute than the database's is spent: the request is counted after all.
select tests.clear_authentication();
delete from private.request_counts where key = 'user:' || tests.get_supabase_uid('leaser');
select tests.authenticate_as('leaser');
select is(
  (private.begin_request(null, null, 25, 0, 0, 0, (extract(epoch from date_trunc('minute', now())) / 60)::integer - 1))[1], 0,
  'a request on a lease of the minute before is counted (once)'
);
-- No caller takes more than 10 at once, whatever it asks for.
select is(
  (private.begin_request(null, null, 25, 0, 1000, 0, (extract(epoch from date_trunc('minute', now())) / 60)::integer))[1], 9,
  'a lease is at most 10'
);
select tests.clear_authentication();
select is(
  (select count from private.request_counts where key = 'user:' || tests.get_supabase_uid('leaser')),
  11, 'the stale lease counted 1, the large one 10'
);
select tests.authenticate_as('leaser');

select ok(
  not has_function_privilege('authenticated', 'private.take_request_counts(text, integer)', 'execute')
  and not has_function_privilege('anon', 'private.take_request_counts(text, integer)', 'execute'),
  'a user cannot move a counter directly'
);

select * from finish();
rollback;
