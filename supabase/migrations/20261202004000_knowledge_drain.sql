-- Notes are indexed without anyone asking (docs/adr/0032-indexing-without-asking.md). A note's save
-- queues it (20261201005000) and the notes function asks the ai function to drain the user's queue;
-- what that misses (a retry's backoff, a lease run out, notes written by agents or SQL, a change of
-- embedding model) is picked up by a periodic drain: the ai function's POST ai/knowledge/drain-due,
-- called with the service-role key every minute, by pg_cron through pg_net on hosted Supabase and by
-- a timer in the local stack. It finds the users with work here and drains each as that user.

-- Passages of another model than the configured one, found without reading every passage: two
-- range scans of this index (below and above the model's name), empty once everything is re-embedded.
create index document_chunks_embedding_model_user_id_idx
  on public.document_chunks (embedding_model, user_id);

-- The users with knowledge work (of `only_users`, when given): jobs that are due (not leased,
-- attempts left), documents whose last attempt's worker died (to be failed), and passages of another
-- model than `current_model`. For the
-- function's own database role and the service role, never for a user: like every function in
-- private it runs as its owner, and only they may call it.
create function private.knowledge_work_users(
  current_model text,
  max_attempts integer,
  max_users integer,
  only_users uuid[] default null
)
returns table (user_id uuid)
language sql
stable
security definer
set search_path = ''
as $$
  select w.user_id from (
    select j.user_id from public.knowledge_jobs as j
    where (j.locked_until is null or j.locked_until < now())
      and ((j.attempts < max_attempts and j.run_after <= now())
           or (j.document_id is not null and j.attempts >= max_attempts))
    union
    (select c.user_id from public.document_chunks as c where c.embedding_model < current_model)
    union
    (select c.user_id from public.document_chunks as c where c.embedding_model > current_model)
  ) as w
  where only_users is null or w.user_id = any (only_users)
  limit greatest(coalesce(max_users, 0), 0)
$$;

revoke all on function private.knowledge_work_users(text, integer, integer, uuid[]) from public, anon, authenticated;
grant execute on function private.knowledge_work_users(text, integer, integer, uuid[]) to service_role;

-- Hosted: a pg_cron job that calls POST ai/knowledge/drain-due every minute through pg_net, with the
-- project's URL and the service-role key from Vault (as Supabase's "Scheduling Edge Functions"
-- guide does). It is scheduled only where pg_cron, pg_net and both secrets exist; elsewhere (the
-- embedded database, a project without them) this says so and does nothing. After enabling the
-- extensions and storing the secrets, run `select private.schedule_knowledge_drain();` once.
--   select vault.create_secret('https://<ref>.supabase.co', 'project_url');
--   select vault.create_secret('<service role key>', 'consilium_service_role_key');
create function private.schedule_knowledge_drain()
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  command text := $job$
    select net.http_post(
      url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url')
             || '/functions/v1/ai/knowledge/drain-due',
      headers := jsonb_build_object(
        'Content-Type', 'application/json',
        'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets
                                       where name = 'consilium_service_role_key')),
      body := '{}'::jsonb,
      timeout_milliseconds := 10000
    ) as request_id
  $job$;
  secrets integer;
begin
  if not exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron')
     or not exists (select 1 from pg_catalog.pg_extension where extname = 'pg_net') then
    return 'not scheduled: enable pg_cron and pg_net, then run select private.schedule_knowledge_drain()';
  end if;
  execute $q$select count(*)::integer from vault.secrets
             where name in ('project_url', 'consilium_service_role_key')$q$ into secrets;
  if secrets < 2 then
    return 'not scheduled: store project_url and consilium_service_role_key in Vault, then run '
           'select private.schedule_knowledge_drain()';
  end if;
  execute 'select cron.schedule($1, $2, $3)' using 'consilium-knowledge-drain', '* * * * *', command;
  return 'scheduled: consilium-knowledge-drain, every minute';
end;
$$;

revoke all on function private.schedule_knowledge_drain() from public, anon, authenticated;

do $$
begin
  raise notice 'knowledge drain: %', private.schedule_knowledge_drain();
end;
$$;
