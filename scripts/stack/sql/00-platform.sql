-- What hosted Supabase provides before any migration runs: its roles with their attributes,
-- memberships and settings, the schemas and their grants, as supabase/postgres's init scripts and
-- migrations leave them. Runs as supabase_admin, the bootstrap superuser (as on hosted), on every
-- start, so every statement is idempotent. See docs/adr/0014-hosted-roles-locally.md.

do $$
declare
  spec record;
begin
  for spec in
    select * from (values
      -- `postgres` is what the developer, the migrations and the functions log in as: not a superuser.
      ('postgres', 'login nosuperuser inherit createdb createrole replication bypassrls'),
      ('anon', 'nologin inherit'),
      ('authenticated', 'nologin inherit'),
      ('service_role', 'nologin inherit bypassrls'),
      ('authenticator', 'login noinherit'),
      ('supabase_auth_admin', 'login noinherit createrole noreplication'),
      ('supabase_storage_admin', 'login noinherit createrole noreplication'),
      ('supabase_realtime_admin', 'nologin noinherit noreplication'),
      ('supabase_superuser', 'nologin'),
      ('dashboard_user', 'nologin createdb createrole replication')
    ) as roles (name, attributes)
  loop
    if not exists (select from pg_catalog.pg_roles where rolname = spec.name) then
      execute format('create role %I %s', spec.name, spec.attributes);
    else
      execute format('alter role %I %s', spec.name, spec.attributes);
    end if;
  end loop;

  -- `supabase start` gives every login role the password `postgres`; one changed since is kept.
  for spec in
    select rolname from pg_catalog.pg_authid
    where rolname in ('postgres', 'supabase_admin', 'authenticator', 'supabase_auth_admin', 'supabase_storage_admin')
      and rolpassword is null
  loop
    execute format('alter role %I password %L', spec.rolname, 'postgres');
  end loop;
end
$$;

grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role, supabase_superuser to postgres;
grant pg_read_all_data, pg_monitor, pg_signal_backend to postgres;
-- And, as on hosted today, postgres is a member of neither supabase_auth_admin,
-- supabase_storage_admin nor supabase_realtime_admin: it reaches their tables through grants.

-- Per-role settings, read when a client logs in as the role (not on SET ROLE), as PostgreSQL does.
alter role postgres set search_path = "$user", public, extensions;
alter role supabase_admin set search_path = "$user", public, auth, extensions;
alter role supabase_auth_admin set search_path = auth;
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';

-- The database the stack was pointed at: `postgres` locally and on hosted, any name on an existing server.
do $$
begin
  execute format('grant all on database %I to postgres, dashboard_user', current_database());
end
$$;

create schema if not exists extensions;
grant usage, create on schema extensions to postgres;
grant usage on schema extensions to anon, authenticated, service_role;
grant all on schema extensions to dashboard_user;
alter default privileges in schema extensions grant all on tables to postgres with grant option;
alter default privileges in schema extensions grant all on routines to postgres with grant option;
alter default privileges in schema extensions grant all on sequences to postgres with grant option;

-- What hosted Supabase has in `extensions` before any migration. Creating others (vector, …) is
-- the migrations' job, as postgres: see the trusted extensions in scripts/stack/database.ts.
create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists pgcrypto with schema extensions;

-- The API roles may use public, and what postgres (or supabase_admin) creates there is granted to
-- them; RLS decides which rows they reach.
grant usage, create on schema public to postgres;
grant usage on schema public to anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to postgres, anon, authenticated, service_role;

-- Splinter (the advisors) reads the schemas PostgREST exposes from this setting.
do $$
begin
  execute format('alter database %I set pgrst.db_schemas = %L', current_database(), 'public');
end
$$;
