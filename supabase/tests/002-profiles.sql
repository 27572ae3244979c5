-- profiles: made by the signup trigger, read and changed only by their user, within limits.
begin;
select plan(22);

-- Supabase Auth inserts users as supabase_auth_admin, which may not write public.profiles: the
-- trigger makes the profile in the same statement, with its owner's rights. The tests run as
-- postgres, which (on hosted as here) is no member of supabase_auth_admin, so they insert the
-- user as postgres and check the rights that make the real path work.
select ok(
  (select prosecdef from pg_catalog.pg_proc where oid = 'public.handle_new_user()'::regprocedure),
  'the signup trigger runs with its owner''s rights'
);
select ok(
  not has_table_privilege('supabase_auth_admin', 'public.profiles', 'insert'),
  'Supabase Auth''s role cannot write profiles itself'
);
select ok(
  has_table_privilege(
    (select proowner from pg_catalog.pg_proc where oid = 'public.handle_new_user()'::regprocedure),
    'public.profiles', 'insert'
  ),
  'the signup trigger''s owner can'
);

insert into auth.users (id, aud, role, email, raw_user_meta_data, created_at, updated_at)
values (
  'a0000000-0000-4000-8000-000000000000', 'authenticated', 'authenticated', 'ada@test.local',
  '{"full_name": "Ada Lovelace", "avatar_url": "https://example.com/ada.png", "test_identifier": "ada"}',
  now(), now()
);

select results_eq(
  $$ select full_name, avatar_url, preferences, is_active, is_superuser
     from public.profiles where id = 'a0000000-0000-4000-8000-000000000000' $$,
  $$ values ('Ada Lovelace', 'https://example.com/ada.png', '{}'::jsonb, true, false) $$,
  'signing up makes a profile from the user metadata'
);

select tests.create_supabase_user('long', jsonb_build_object('full_name', repeat('x', 500), 'avatar_url', repeat('y', 3000)));
select results_eq(
  $$ select char_length(full_name), avatar_url from public.profiles where id = tests.get_supabase_uid('long') $$,
  $$ values (200, null::text) $$,
  'an overlong name is cut and an overlong avatar URL dropped, so the signup still succeeds'
);

select tests.create_supabase_user('bob');
select is(
  (select full_name from public.profiles where id = tests.get_supabase_uid('bob')),
  null,
  'a user without a name gets a profile without one'
);

select tests.authenticate_as('ada');

select results_eq(
  $$ select id from public.profiles $$,
  $$ values ('a0000000-0000-4000-8000-000000000000'::uuid) $$,
  'a user sees only their own profile'
);

select results_eq(
  $$ update public.profiles set preferences = '{"theme": "dark"}', full_name = 'Ada King'
     returning preferences, full_name $$,
  $$ values ('{"theme": "dark"}'::jsonb, 'Ada King') $$,
  'a user can change their own name and preferences'
);

select ok(
  (select updated_at > created_at from public.profiles),
  'an update moves updated_at'
);

select is_empty(
  $$ update public.profiles set full_name = 'Mallory' where id = tests.get_supabase_uid('bob') returning 1 $$,
  'a user cannot change another user''s profile'
);

select throws_ok(
  $$ update public.profiles set is_superuser = true $$,
  '42501', 'permission denied for table profiles',
  'a user cannot make themselves a superuser'
);

select throws_ok(
  $$ update public.profiles set is_active = false $$,
  '42501', 'permission denied for table profiles',
  'a user cannot change is_active'
);

select throws_ok(
  $$ insert into public.profiles (id) values (gen_random_uuid()) $$,
  '42501', 'permission denied for table profiles',
  'profiles are not inserted by users'
);

select throws_ok(
  $$ delete from public.profiles $$,
  '42501', 'permission denied for table profiles',
  'profiles are not deleted by users'
);

select throws_ok(
  $$ update public.profiles set preferences = '["dark"]' $$,
  '23514', 'new row for relation "profiles" violates check constraint "profiles_preferences_is_object"',
  'preferences must be a JSON object'
);

select throws_ok(
  $$ update public.profiles set preferences = jsonb_build_object('notes', repeat('x', 65536)) $$,
  '23514', 'new row for relation "profiles" violates check constraint "profiles_preferences_max_64_kib"',
  'preferences over 64 KiB are refused'
);

select lives_ok(
  $$ update public.profiles set preferences = jsonb_build_object('notes', repeat('x', 65000)) $$,
  'preferences just under 64 KiB are accepted'
);

select tests.authenticate_as('bob');

select is(
  (select preferences ->> 'theme' from public.profiles where id = 'a0000000-0000-4000-8000-000000000000'),
  null,
  'another user cannot read a profile'
);

select tests.authenticate_as_anon();

select throws_ok(
  $$ select * from public.profiles $$,
  '42501', 'permission denied for table profiles',
  'anon cannot read profiles'
);

select throws_ok(
  $$ update public.profiles set full_name = 'anon' $$,
  '42501', 'permission denied for table profiles',
  'anon cannot change profiles'
);

select tests.clear_authentication();

select is(
  (select full_name from public.profiles where id = tests.get_supabase_uid('bob')),
  null,
  'the other user''s profile is unchanged'
);

delete from auth.users where id = 'a0000000-0000-4000-8000-000000000000';
select is_empty(
  $$ select 1 from public.profiles where id = 'a0000000-0000-4000-8000-000000000000' $$,
  'deleting the auth user deletes the profile'
);

select * from finish();
rollback;
