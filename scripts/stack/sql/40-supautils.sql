-- Local only (never in supabase/migrations): what hosted Supabase's supautils extension lets
-- postgres do that PostgreSQL alone reserves to a superuser or an owner. (Trusted extensions,
-- supautils.privileged_extensions, are in scripts/stack/database.ts.) Idempotent: runs on every
-- start. See docs/adr/0014-hosted-roles-locally.md.

create schema if not exists supautils_local;
revoke all on schema supautils_local from public;

-- supautils.policy_grants: postgres may create, alter and drop the policies of auth's tables and
-- realtime.messages, which it does not own. PostgreSQL asks the owner's rights for that, so for
-- the length of a policy command postgres is a member of their owners; the membership goes when
-- the command ends, or with the transaction when it fails.
create or replace function supautils_local.lend_policy_owners() returns event_trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_event = 'ddl_command_start' then
    grant supabase_auth_admin, supabase_realtime_admin to postgres;
  else
    revoke supabase_auth_admin, supabase_realtime_admin from postgres;
  end if;
end
$$;

do $$
begin
  if not exists (select from pg_catalog.pg_event_trigger where evtname = 'supautils_local_policy_start') then
    create event trigger supautils_local_policy_start on ddl_command_start
      when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY')
      execute function supautils_local.lend_policy_owners();
    create event trigger supautils_local_policy_end on ddl_command_end
      when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY')
      execute function supautils_local.lend_policy_owners();
  end if;
end
$$;
