-- Approval before an agent's destructive change (docs/adr/0030). When a tool call needs the user's
-- approval (their preference `ai.approval`), the run stops working and waits in status
-- `awaiting_approval`: what it had so far (its messages and the calls still to make) is kept in
-- agent_run_pauses, each proposed change in agent_run_approvals (its id is the id of the tool-call
-- step that proposes it: the action id), and no process waits for it. `POST ai/runs/{id}/approval`
-- records the decisions and resumes the run wherever that request is served. Written by the ai
-- function as the user (RLS, never the service role).

-- A waiting run has started and not finished. An error is what a failed run says, or why a run was
-- cancelled without a user asking (`approval_expired`).
alter table public.agent_runs
  drop constraint agent_runs_timings_follow_status,
  add constraint agent_runs_timings_follow_status check (
    case status
      when 'queued' then started_at is null and finished_at is null
      when 'running' then started_at is not null and finished_at is null
      when 'awaiting_approval' then started_at is not null and finished_at is null
      when 'succeeded' then started_at is not null and finished_at is not null
      else finished_at is not null
    end
  ),
  drop constraint agent_runs_error_when_failed,
  add constraint agent_runs_error_when_failed check (status <> 'failed' or error is not null),
  add constraint agent_runs_error_only_when_ended check (error is null or status in ('failed', 'cancelled'));

-- An approval names the step that proposes it, of the same user.
create unique index if not exists agent_run_steps_user_id_id_key on public.agent_run_steps (user_id, id);

-- What a waiting run had when it stopped: {version, frames: [{agent_id, system, speaking, said,
-- messages, done, next}], answer, model, usage, model_calls, tool_calls, position}. Deleted when the
-- run resumes, is cancelled or expires, so nothing of it can run after that.
create table public.agent_run_pauses (
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  run_id uuid not null,
  state jsonb not null,
  -- When the run began to wait: it expires AI_APPROVAL_TTL_SECONDS after.
  created_at timestamptz not null default now(),
  primary key (user_id, run_id),
  constraint agent_run_pauses_run_fkey foreign key (user_id, run_id)
    references public.agent_runs (user_id, id) on delete cascade,
  constraint agent_run_pauses_state_is_object check (jsonb_typeof(state) = 'object'),
  constraint agent_run_pauses_state_size check (octet_length(state::text) <= 4194304)
);

-- A user's waiting runs, oldest first: the expired ones to mark.
create index agent_run_pauses_user_id_created_at_idx on public.agent_run_pauses (user_id, created_at);

alter table public.agent_run_pauses enable row level security;
revoke all on table public.agent_run_pauses from anon, authenticated;
grant select, insert, delete on table public.agent_run_pauses to authenticated;

create policy "Users can read their own paused runs" on public.agent_run_pauses
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can pause their own runs" on public.agent_run_pauses
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "Users can resume their own paused runs" on public.agent_run_pauses
  for delete to authenticated
  using ((select auth.uid()) = user_id);

-- One row per change a waiting run proposes: the tool and its arguments, why it needs approval
-- (`delete`: it deletes; `bulk`: it changes more than 10 rows; `write`: the user approves every
-- write), the change in words and as data ({operation, table, count, rows: [{id, title}], fields}),
-- then the user's decision (once), and what running it answered.
create table public.agent_run_approvals (
  -- The id of the tool-call step that proposes the change (agent_run_steps.id): the action id.
  id uuid not null,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  run_id uuid not null,
  -- The call's place among the calls the run waits on, and the model's id of the call.
  position integer not null,
  tool_call_id text not null,
  tool text not null,
  agent_id text not null,
  arguments jsonb not null default '{}',
  reason text not null,
  summary text not null,
  change jsonb not null,
  decision text,
  note text,
  decided_at timestamptz,
  -- The tool's result or error once decided: {"ok": true, "result": …} or {"ok": false, "error": …}.
  outcome jsonb,
  created_at timestamptz not null default now(),
  primary key (user_id, id),
  constraint agent_run_approvals_step_fkey foreign key (user_id, id)
    references public.agent_run_steps (user_id, id) on delete cascade,
  constraint agent_run_approvals_run_fkey foreign key (user_id, run_id)
    references public.agent_runs (user_id, id) on delete cascade,
  constraint agent_run_approvals_run_id_position_key unique (run_id, position),
  constraint agent_run_approvals_position_range check (position between 0 and 999),
  constraint agent_run_approvals_tool_call_id_length check (char_length(tool_call_id) between 1 and 200),
  constraint agent_run_approvals_tool_length check (char_length(tool) between 1 and 100),
  constraint agent_run_approvals_agent_id_length check (char_length(agent_id) between 1 and 100),
  constraint agent_run_approvals_reason check (reason in ('delete', 'bulk', 'write')),
  constraint agent_run_approvals_summary_length check (char_length(summary) between 1 and 2000),
  constraint agent_run_approvals_arguments_size check (octet_length(arguments::text) <= 65536),
  constraint agent_run_approvals_change_is_object check (
    jsonb_typeof(change) = 'object' and octet_length(change::text) <= 65536
  ),
  constraint agent_run_approvals_decision check (decision in ('approved', 'refused')),
  constraint agent_run_approvals_note_length check (char_length(note) <= 2000),
  constraint agent_run_approvals_decided_together check ((decision is null) = (decided_at is null)),
  constraint agent_run_approvals_outcome_after_decision check (outcome is null or decision is not null),
  constraint agent_run_approvals_outcome_size check (octet_length(outcome::text) <= 65536)
);

-- A run's proposed changes in order; covers agent_run_approvals_run_fkey.
create index agent_run_approvals_user_id_run_id_position_idx
  on public.agent_run_approvals (user_id, run_id, position);

-- A decision is made once, and what running it answered is recorded once.
create function public.approval_decided_once()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if old.decision is not null and (new.decision is distinct from old.decision
      or new.note is distinct from old.note or new.decided_at is distinct from old.decided_at) then
    raise exception 'This change has already been decided' using errcode = 'check_violation';
  end if;
  if old.outcome is not null and new.outcome is distinct from old.outcome then
    raise exception 'This change has already run' using errcode = 'check_violation';
  end if;
  return new;
end;
$$;

revoke execute on function public.approval_decided_once() from public, anon, authenticated;

create trigger decided_once
  before update on public.agent_run_approvals
  for each row execute function public.approval_decided_once();

-- The user decides (and the ai function records the outcome); what was proposed stays as proposed.
alter table public.agent_run_approvals enable row level security;
revoke all on table public.agent_run_approvals from anon, authenticated;
grant select, insert on table public.agent_run_approvals to authenticated;
grant update (decision, note, decided_at, outcome) on table public.agent_run_approvals to authenticated;

create policy "Users can read the approvals of their own runs" on public.agent_run_approvals
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can record proposed changes of their own runs" on public.agent_run_approvals
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "Users can decide the proposed changes of their own runs" on public.agent_run_approvals
  for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);
