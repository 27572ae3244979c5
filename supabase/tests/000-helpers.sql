-- Test helpers in the style of basejump's supabase_test_helpers: make users, act as one of them
-- (or as a visitor without a session), and check that a schema's tables all have RLS.
-- Runs first and commits (every test file then runs in begin … rollback); its own check at the end
-- makes it a test file too, so `supabase test db` can run the directory as it stands.
-- pgTAP lives in the `extensions` schema.

begin;

create schema if not exists tests;
grant usage on schema tests to anon, authenticated, service_role;

-- Inserts a confirmed user into auth.users (firing the signup trigger) and returns its id; the
-- identifier is kept in the user metadata to find the user again.
create or replace function tests.create_supabase_user(identifier text, metadata jsonb default '{}')
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  user_id uuid := gen_random_uuid();
begin
  insert into auth.users (
    instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
    raw_app_meta_data, raw_user_meta_data, created_at, updated_at
  ) values (
    '00000000-0000-0000-0000-000000000000', user_id, 'authenticated', 'authenticated',
    identifier || '@test.local', '', now(),
    '{"provider": "email", "providers": ["email"]}',
    metadata || jsonb_build_object('test_identifier', identifier), now(), now()
  );
  return user_id;
end;
$$;

-- Runs as its owner: the roles under test may not read auth.users.
create or replace function tests.get_supabase_uid(identifier text)
returns uuid
language sql
stable
security definer
set search_path = ''
as $$
  select id from auth.users where raw_user_meta_data ->> 'test_identifier' = identifier
$$;

-- Acts as the user for the rest of the transaction, as PostgREST and the functions do: the
-- `authenticated` role and the token's claims, both transaction-local.
create or replace function tests.authenticate_as(identifier text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  user_id uuid := tests.get_supabase_uid(identifier);
begin
  if user_id is null then
    raise exception 'no test user named %', identifier;
  end if;
  perform set_config('role', 'authenticated', true);
  perform set_config('request.jwt.claims', json_build_object(
    'sub', user_id,
    'role', 'authenticated',
    'aud', 'authenticated',
    'email', identifier || '@test.local',
    'is_anonymous', false
  )::text, true);
end;
$$;

-- Acts as a visitor holding only the anon key.
create or replace function tests.authenticate_as_anon()
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('role', 'anon', true);
  perform set_config('request.jwt.claims', '{"role": "anon"}', true);
end;
$$;

-- Back to the session's own role (postgres), with no claims.
create or replace function tests.clear_authentication()
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', '', true);
end;
$$;

-- A pgTAP assertion: every table in the schema has row level security enabled. Its search path
-- is pgTAP's schema, which pgTAP's own functions need.
create or replace function tests.rls_enabled(testing_schema text)
returns text
language sql
set search_path = extensions
as $$
  select extensions.is_empty(
    format(
      'select c.relname from pg_catalog.pg_class c
       where c.relnamespace = %L::regnamespace and c.relkind in (''r'', ''p'') and not c.relrowsecurity',
      testing_schema
    ),
    format('every table in schema %s has row level security enabled', testing_schema)
  )
$$;

grant execute on all functions in schema tests to anon, authenticated, service_role;

commit;

begin;
select plan(5);

select has_function('tests', 'create_supabase_user', array['text', 'jsonb']);
select has_function('tests', 'authenticate_as', array['text']);
select has_function('tests', 'authenticate_as_anon', array[]::text[]);
select has_function('tests', 'clear_authentication', array[]::text[]);
select has_function('tests', 'rls_enabled', array['text']);

select * from finish();
rollback;
