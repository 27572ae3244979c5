-- What makes due schedules run on hosted Supabase (docs/adr/0031-scheduled-check-ins.md): every
-- minute pg_cron calls the ai function's due check, `POST /functions/v1/ai/schedules/due`, with
-- pg_net, as Supabase documents for scheduling edge functions. The project URL and the key the
-- route takes come from Vault:
--
--   select vault.create_secret('https://<project-ref>.supabase.co', 'project_url');
--   select vault.create_secret('<SCHEDULES_CHECK_SECRET, or the service_role key>', 'schedules_check_key');
--
-- Until both secrets exist the job calls nothing. Where pg_cron or pg_net is absent (the local
-- stack's embedded database; a project that has not enabled them) this migration still applies and
-- schedules nothing: the local stack runs the same check on a timer (scripts/stack/schedules-timer.ts),
-- and `select private.install_schedules_check()` installs the job once the extensions are there.

create function private.install_schedules_check()
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  command text := $job$
    select net.http_post(
      url := secrets.url || '/functions/v1/ai/schedules/due',
      headers := jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || secrets.key),
      body := '{}'::jsonb,
      timeout_milliseconds := 10000
    )
    from (
      select
        (select decrypted_secret from vault.decrypted_secrets where name = 'project_url') as url,
        (select decrypted_secret from vault.decrypted_secrets where name = 'schedules_check_key') as key
    ) as secrets
    where secrets.url is not null and secrets.key is not null
  $job$;
begin
  if pg_catalog.to_regnamespace('cron') is null
     or not exists (select from pg_catalog.pg_proc where proname = 'schedule'
                    and pronamespace = pg_catalog.to_regnamespace('cron'))
     or pg_catalog.to_regnamespace('net') is null
     or not exists (select from pg_catalog.pg_proc where proname = 'http_post'
                    and pronamespace = pg_catalog.to_regnamespace('net'))
     or pg_catalog.to_regclass('vault.decrypted_secrets') is null then
    return 'skipped: pg_cron, pg_net or Vault is not installed';
  end if;
  -- Named, so a second install replaces the job instead of adding another.
  perform cron.schedule('consilium-schedules-due', '* * * * *', command);
  return 'scheduled: consilium-schedules-due, every minute';
end;
$$;

revoke all on function private.install_schedules_check() from public, anon, authenticated;

-- Enable the extensions where the platform offers them (hosted Supabase does); a database that
-- offers them but refuses (no shared_preload_libraries entry, say) keeps the migration applying.
do $$
begin
  if exists (select from pg_catalog.pg_available_extensions where name = 'pg_cron') then
    begin
      create extension if not exists pg_cron with schema pg_catalog;
    exception when others then
      raise notice 'pg_cron is available but could not be enabled: %', sqlerrm;
    end;
  end if;
  if exists (select from pg_catalog.pg_available_extensions where name = 'pg_net') then
    begin
      create extension if not exists pg_net with schema extensions;
    exception when others then
      raise notice 'pg_net is available but could not be enabled: %', sqlerrm;
    end;
  end if;
  raise notice 'schedules check: %', private.install_schedules_check();
end;
$$;
