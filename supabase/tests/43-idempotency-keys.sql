-- idempotency_keys: private to their user like every table, with bounded keys.
begin;
select plan(10);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

select tests.authenticate_as('alice');

select lives_ok(
  $$ insert into public.idempotency_keys (scope, key, request_hash) values ('notes.create', 'k1', 'h') $$,
  'a user records a key'
);

select lives_ok(
  $$ update public.idempotency_keys set response_status = 201, response_body = '{"id": 1}' where key = 'k1' $$,
  'a user stores the response of their key'
);

select throws_ok(
  $$ insert into public.idempotency_keys (scope, key, request_hash) values ('notes.create', 'k1', 'other') $$,
  '23505', null,
  'a key is unique per user and scope'
);

select throws_ok(
  $$ insert into public.idempotency_keys (user_id, scope, key, request_hash)
     values (tests.get_supabase_uid('bob'), 'notes.create', 'k2', 'h') $$,
  '42501', 'new row violates row-level security policy for table "idempotency_keys"',
  'a user cannot record a key for another user'
);

select throws_ok(
  $$ insert into public.idempotency_keys (scope, key, request_hash) values ('notes.create', '', 'h') $$,
  '23514', null,
  'a key is not empty'
);

-- PostgreSQL 17's MAINTAIN (VACUUM, ANALYZE, REINDEX, LOCK) went with the privileges revoked one by one.
select ok(
  case when pg_catalog.current_setting('server_version_num')::int >= 170000
       then not has_table_privilege('authenticated', 'public.idempotency_keys', 'maintain')
       else true end,
  'a user may not maintain the keys table (MAINTAIN, PostgreSQL 17 and later)'
);

select tests.authenticate_as('bob');

select is_empty($$ select 1 from public.idempotency_keys $$, 'a user sees only their own keys');
select is_empty($$ update public.idempotency_keys set request_hash = 'x' returning 1 $$, 'nor changes another''s');
select is_empty($$ delete from public.idempotency_keys returning 1 $$, 'nor deletes another''s');

select tests.authenticate_as_anon();

select throws_ok(
  $$ select 1 from public.idempotency_keys $$,
  '42501', null,
  'a visitor without a session may not read keys'
);

select * from finish();
rollback;
