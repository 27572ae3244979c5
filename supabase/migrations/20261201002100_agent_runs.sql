-- Runs of agents: one per answer an agent works on in a conversation, from queued to a final
-- status, with the model that answered, the tokens it used and what went wrong. The ai function
-- writes them as the user (RLS, never the service role). See docs/adr/0019-agent-registry.md.

create type public.run_status as enum ('queued', 'running', 'succeeded', 'failed', 'cancelled');

-- A run's trigger message must be a message of the same user and the same conversation.
alter table public.messages
  add constraint messages_user_id_conversation_id_id_key unique (user_id, conversation_id, id);

create table public.agent_runs (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  conversation_id uuid not null,
  -- The user message the run answers; null once that message is deleted (the run stays a record).
  trigger_message_id uuid,
  -- A built-in agent's id ('coordinator') or the id of one of the user's own agents.
  agent_id text not null,
  -- `provider:model` that answered (or was last tried); null until a model is called.
  model text,
  status public.run_status not null default 'queued',
  -- Tokens per model: {"openai:gpt-4.1-mini": {"input_tokens": 812, "output_tokens": 95}}.
  usage jsonb not null default '{}',
  -- Why a run failed, as the API says it: {"code": "provider_unavailable", "message": "…"}.
  error jsonb,
  -- created_at is when it was queued. updated_at moves with every write, so a run still running
  -- whose updated_at is old was cut off by a crash and is marked failed when found.
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz not null default now(),
  constraint agent_runs_user_id_id_key unique (user_id, id),
  constraint agent_runs_conversation_fkey foreign key (user_id, conversation_id)
    references public.conversations (user_id, id) on delete cascade,
  constraint agent_runs_trigger_message_fkey foreign key (user_id, conversation_id, trigger_message_id)
    references public.messages (user_id, conversation_id, id) on delete set null (trigger_message_id),
  constraint agent_runs_agent_id_length check (char_length(agent_id) between 1 and 100),
  constraint agent_runs_model_format check (char_length(model) <= 200 and model ~ '^[a-z][a-z0-9-]*:.+$'),
  constraint agent_runs_usage_is_object check (jsonb_typeof(usage) = 'object'),
  constraint agent_runs_error_has_code check (
    error is null or (jsonb_typeof(error) = 'object' and coalesce(jsonb_typeof(error -> 'code'), '') = 'string')
  ),
  -- The timings follow the status: queued has neither, running has started, a final status has
  -- finished (a run failed or cancelled while queued never started); a failed run says why.
  constraint agent_runs_timings_follow_status check (
    case status
      when 'queued' then started_at is null and finished_at is null
      when 'running' then started_at is not null and finished_at is null
      when 'succeeded' then started_at is not null and finished_at is not null
      else finished_at is not null
    end
  ),
  constraint agent_runs_timings_in_order check (
    started_at >= created_at and finished_at >= coalesce(started_at, created_at)
  ),
  constraint agent_runs_error_when_failed check ((status = 'failed') = (error is not null))
);

-- A conversation's runs, newest first; covers agent_runs_conversation_fkey.
create index agent_runs_user_id_conversation_id_created_at_idx
  on public.agent_runs (user_id, conversation_id, created_at desc, id desc);
-- Covers agent_runs_trigger_message_fkey (and finds the run of a message).
create index agent_runs_trigger_message_idx
  on public.agent_runs (user_id, conversation_id, trigger_message_id);
-- A user's runs, newest first: the list, and the runs of the last minute for the rate limit.
create index agent_runs_user_id_created_at_idx on public.agent_runs (user_id, created_at desc, id desc);
-- A user's runs that are not finished: at most a few at once, and the stale ones to mark failed.
create index agent_runs_unfinished_idx on public.agent_runs (user_id, updated_at)
  where status in ('queued', 'running');

create trigger set_updated_at
  before update on public.agent_runs
  for each row execute function public.set_updated_at();

-- Runs are records: a user reads, starts and updates their own, and they go only with their
-- conversation (deleting them would also reset the count the rate limit is taken from).
alter table public.agent_runs enable row level security;
revoke all on table public.agent_runs from anon, authenticated;
grant select, insert, update on table public.agent_runs to authenticated;

create policy "Users can read their own agent runs" on public.agent_runs
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can start their own agent runs" on public.agent_runs
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "Users can update their own agent runs" on public.agent_runs
  for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);
