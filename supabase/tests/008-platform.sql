-- The platform the migrations are written for, as hosted Supabase has it (and the local stack
-- reproduces it, see docs/adr/0014-hosted-roles-locally.md): who postgres is, what it may reach,
-- and the parts of auth and realtime that change how a migration or a query behaves.
begin;
select plan(32);

select is(current_user::text, 'postgres', 'the tests run as postgres');
select isnt_superuser('postgres', 'postgres is not a superuser');
select ok(
  (select rolbypassrls and rolcreaterole and rolcreatedb and rolreplication and rolinherit
   from pg_catalog.pg_roles where rolname = 'postgres'),
  'postgres has BYPASSRLS, CREATEROLE, CREATEDB, REPLICATION and INHERIT'
);
select ok(pg_has_role('postgres', 'anon', 'member'), 'postgres is a member of anon');
select ok(pg_has_role('postgres', 'authenticated', 'member'), 'postgres is a member of authenticated');
select ok(pg_has_role('postgres', 'service_role', 'member'), 'postgres is a member of service_role');
select ok(pg_has_role('postgres', 'pg_read_all_data', 'member'), 'postgres is a member of pg_read_all_data');
select ok(pg_has_role('postgres', 'pg_monitor', 'member'), 'postgres is a member of pg_monitor');
select ok(pg_has_role('postgres', 'pg_signal_backend', 'member'), 'postgres is a member of pg_signal_backend');
select ok(pg_has_role('postgres', 'supabase_superuser', 'member'), 'postgres is a member of supabase_superuser');
select ok(
  not pg_has_role('postgres', 'supabase_auth_admin', 'member')
  and not pg_has_role('postgres', 'supabase_storage_admin', 'member')
  and not pg_has_role('postgres', 'supabase_realtime_admin', 'member'),
  'postgres is a member of none of the services'' roles'
);
select throws_ok(
  'set local role supabase_auth_admin',
  '42501', 'permission denied to set role "supabase_auth_admin"',
  'so postgres cannot act as Supabase Auth'
);

select ok(
  (select bool_and(rolinherit and not rolcanlogin) from pg_catalog.pg_roles
   where rolname in ('anon', 'authenticated', 'service_role')),
  'anon, authenticated and service_role inherit and cannot log in'
);
select ok(
  (select 'statement_timeout=3s' = any(setconfig) from pg_catalog.pg_db_role_setting
   where setrole = 'anon'::regrole and setdatabase = 0),
  'anon has a statement timeout of 3 s'
);
select ok(
  (select 'statement_timeout=8s' = any(setconfig) from pg_catalog.pg_db_role_setting
   where setrole = 'authenticated'::regrole and setdatabase = 0),
  'authenticated has a statement timeout of 8 s'
);
select ok(
  (select bool_or(c like 'search_path=%extensions%') from pg_catalog.pg_db_role_setting, unnest(setconfig) c
   where setrole = 'postgres'::regrole),
  'the search path with extensions is postgres''s own'
);
select is_empty(
  $$ select from pg_catalog.pg_db_role_setting, unnest(setconfig) c
     where setrole = 0 and c like 'search_path=%' $$,
  'and not the whole database''s'
);

select ok(
  (select bool_and(relrowsecurity) from pg_catalog.pg_class
   where oid in ('auth.users'::regclass, 'auth.identities'::regclass, 'auth.sessions'::regclass,
                 'auth.refresh_tokens'::regclass))
  and not exists (select from pg_catalog.pg_policies where schemaname = 'auth'),
  'auth''s tables have row level security and no policy: only roles that bypass it read them'
);
select table_owner_is('auth', 'users', 'supabase_auth_admin', 'supabase_auth_admin owns auth.users');
select throws_ok(
  'alter table auth.users add column nickname text',
  '42501', 'must be owner of table users',
  'a migration cannot change auth''s tables'
);
select throws_ok(
  'create table auth.extra (id int)',
  '42501', 'permission denied for schema auth',
  'nor add its own to the auth schema'
);
select has_column('auth', 'sessions', 'refresh_token_hmac_key', 'auth.sessions has refresh_token_hmac_key');
select has_column('auth', 'sessions', 'refresh_token_counter', 'auth.sessions has refresh_token_counter');
select has_column('auth', 'sessions', 'scopes', 'auth.sessions has scopes');

select is_partitioned('realtime', 'messages', 'realtime.messages is partitioned (by day)');
select has_column('realtime', 'messages', 'binary_payload', 'realtime.messages has binary_payload');
select table_owner_is('realtime', 'messages', 'supabase_realtime_admin', 'supabase_realtime_admin owns realtime.messages');
select ok(
  not has_table_privilege('authenticated', 'realtime.messages', 'delete')
  and not has_table_privilege('anon', 'realtime.messages', 'delete')
  and not has_table_privilege('service_role', 'realtime.messages', 'delete'),
  'the API roles cannot delete from realtime.messages'
);

-- realtime.send() as hosted Realtime defines it: a refused broadcast is a warning, not an error
-- that would undo the caller's transaction, and a sent one leaves its topic set.
select tests.create_supabase_user('sender');
select tests.authenticate_as('sender');
select lives_ok(
  $$ select realtime.send('{"n": 1}', 'test', 'nobody-may-write-here', true) $$,
  'a broadcast the policies refuse does not fail the transaction'
);
select tests.clear_authentication();
select is_empty(
  $$ select from realtime.messages where topic = 'nobody-may-write-here' $$,
  'and it is not sent'
);
select realtime.send('{"n": 2}', 'test', 'platform-test', false);
select is(realtime.topic(), 'platform-test', 'a sent broadcast leaves realtime.topic set for the transaction');

-- A function whose SET clause names an extension's setting can be defined by postgres only once
-- that extension's library is loaded in the session: a migration or a dump replay fails on hosted.
select is_empty(
  $$ select p.oid::regprocedure from pg_catalog.pg_proc p, unnest(p.proconfig) c
     where p.pronamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
       and split_part(c, '=', 1) like '%.%' $$,
  'no function sets an extension''s parameter in its SET clause'
);

select * from finish();
rollback;
