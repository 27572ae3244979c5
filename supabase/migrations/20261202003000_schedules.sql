-- Scheduled check-ins (docs/adr/0031-scheduled-check-ins.md): a user schedules one of their agents
-- to be asked something on a cron expression in their time zone — a daily plan every morning, a
-- weekly review on Sunday evening, or a prompt of their own. The ai function computes next_run_at
-- (the cron is read in TypeScript); a due check claims due schedules exactly once and starts each
-- run as the schedule's owner, under their RLS.

create type public.schedule_kind as enum ('daily_plan', 'weekly_review', 'custom');

create table public.schedules (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  kind public.schedule_kind not null,
  -- A built-in agent's id ('planner') or one of the user's own agents' (a uuid).
  agent_id text not null,
  -- What the agent is asked each time; null: the kind's built-in prompt (a custom one has its own).
  prompt text,
  -- Five fields (minute, hour, day of month, month, day of week), read in the schedule's time zone.
  cron text not null,
  -- An IANA time zone; null: the user's (preferences.timezone, else UTC).
  time_zone text,
  -- Where the runs answer; null: a conversation of the schedule's own, made by its first run.
  conversation_id uuid,
  enabled boolean not null default true,
  -- When it is next due (null while disabled) and the time zone that time was worked out in.
  next_run_at timestamptz,
  next_run_time_zone text,
  -- The run it started last, and when.
  last_run_id uuid,
  last_run_at timestamptz,
  -- Why its last due time started no run ({"code", "message"}); null once a run starts.
  last_error jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint schedules_user_id_id_key unique (user_id, id),
  constraint schedules_conversation_fkey foreign key (user_id, conversation_id)
    references public.conversations (user_id, id) on delete set null (conversation_id),
  constraint schedules_last_run_fkey foreign key (user_id, last_run_id)
    references public.agent_runs (user_id, id) on delete set null (last_run_id),
  constraint schedules_agent_id_length check (char_length(agent_id) between 1 and 100),
  constraint schedules_prompt_length check (char_length(btrim(prompt)) between 1 and 4000),
  constraint schedules_custom_has_prompt check (kind <> 'custom' or prompt is not null),
  constraint schedules_cron_has_five_fields check (char_length(cron) <= 200 and cron ~ '^\S+( \S+){4}$'),
  constraint schedules_time_zone_length check (char_length(time_zone) between 1 and 64),
  constraint schedules_next_run_time_zone_length check (char_length(next_run_time_zone) between 1 and 64),
  -- An enabled schedule is always due some time; a disabled one never.
  constraint schedules_due_when_enabled check (enabled = (next_run_at is not null)),
  constraint schedules_last_error_has_code check (
    last_error is null
    or (jsonb_typeof(last_error) = 'object' and coalesce(jsonb_typeof(last_error -> 'code'), '') = 'string')
  )
);

-- A user's schedules, oldest first (the list); covers the owner's foreign key.
create index schedules_user_id_created_at_idx on public.schedules (user_id, created_at, id);
-- Cover the same-user foreign keys.
create index schedules_conversation_idx on public.schedules (user_id, conversation_id);
create index schedules_last_run_idx on public.schedules (user_id, last_run_id);
-- The due check: enabled schedules by when they are due.
create index schedules_due_idx on public.schedules (next_run_at) where enabled;

create trigger set_updated_at
  before update on public.schedules
  for each row execute function public.set_updated_at();

alter table public.schedules enable row level security;
revoke all on table public.schedules from anon, authenticated;
grant select, insert, update, delete on table public.schedules to authenticated;

create policy "Users can read their own schedules" on public.schedules
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can create their own schedules" on public.schedules
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "Users can update their own schedules" on public.schedules
  for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "Users can delete their own schedules" on public.schedules
  for delete to authenticated
  using ((select auth.uid()) = user_id);

-- A run that no request of the user started (a due schedule) still works as the user, in
-- withUser's transactions, whose first statement asks private.require_live_session whether the
-- token's session lives. Such a run has no token and no session: the due check, which only the
-- service role can run, issues it a grant instead — a row here, for one user, living as long as
-- one run may take — and the run's claims carry the grant's id as their session_id. The grant is
-- not a session of Supabase Auth: no token ever names it, and Realtime (which checks sessions
-- against auth.sessions alone) refuses it.

create table private.schedule_grants (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  -- The schedule it was issued for (a record: deleting the schedule leaves a run in flight alone).
  schedule_id uuid not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  constraint schedule_grants_expire_after_creation check (expires_at > created_at)
);

create index schedule_grants_user_id_idx on private.schedule_grants (user_id);
create index schedule_grants_expires_at_idx on private.schedule_grants (expires_at);

alter table private.schedule_grants enable row level security;
revoke all on table private.schedule_grants from public, anon, authenticated;
grant usage on schema private to service_role;
grant select, insert, delete on table private.schedule_grants to service_role;

-- Whether a grant of the caller's own is live: not expired, and its user neither banned nor deleted.
create function private.schedule_grant_is_active(grant_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select grant_id is not null and exists (
    select 1
    from private.schedule_grants g
    join auth.users u on u.id = g.user_id
    where g.id = grant_id
      and g.user_id = (select auth.uid())
      and g.expires_at > now()
      and (u.banned_until is null or u.banned_until <= now())
      and u.deleted_at is null
  )
$$;

revoke all on function private.schedule_grant_is_active(uuid) from public, anon, authenticated;

-- The session check of every withUser transaction: a live session of the caller's own (as before:
-- a token without a session id is judged by its signature alone), or else a live schedule grant.
create or replace function private.require_live_session(session_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if private.session_is_active(session_id) then
    return true;
  end if;
  if private.schedule_grant_is_active(session_id) then
    return true;
  end if;
  raise exception 'This session has ended; sign in again' using errcode = 'CS401';
end;
$$;
