-- The steps of an agent run, in order: what went into the model (the context), each model call
-- (the model that answered, its tokens), each tool call (its arguments and result) and each
-- delegation. Written by the ai function as the user, once a step is done; read back with the run
-- (GET ai/runs/{id}). Records: nobody changes or deletes a step; they go with their run.

create type public.run_step_kind as enum ('context', 'model_call', 'tool_call', 'delegation');

create table public.agent_run_steps (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  run_id uuid not null,
  -- The step's place in its run, from 0.
  position integer not null,
  kind public.run_step_kind not null,
  -- The model of a model call (`provider:model`), the tool of a tool call, the agent delegated to.
  name text not null,
  -- The agent whose step it is (a specialist's steps within a delegation name the specialist).
  agent_id text not null,
  -- A tool call's arguments, a delegation's task, the context's summary.
  input jsonb not null default '{}',
  -- A tool call's result, a model call's answer in brief.
  output jsonb not null default '{}',
  -- Why the step failed, e.g. a tool's {"code": "not_found", "message": "…"}.
  error jsonb,
  -- A model call's tokens: {"input_tokens": 812, "output_tokens": 95}.
  usage jsonb,
  started_at timestamptz not null,
  finished_at timestamptz not null,
  created_at timestamptz not null default now(),
  constraint agent_run_steps_run_fkey foreign key (user_id, run_id)
    references public.agent_runs (user_id, id) on delete cascade,
  constraint agent_run_steps_run_id_position_key unique (run_id, position),
  constraint agent_run_steps_position_range check (position between 0 and 9999),
  constraint agent_run_steps_name_length check (char_length(name) between 1 and 200),
  constraint agent_run_steps_agent_id_length check (char_length(agent_id) between 1 and 100),
  constraint agent_run_steps_input_size check (octet_length(input::text) <= 65536),
  constraint agent_run_steps_output_size check (octet_length(output::text) <= 65536),
  constraint agent_run_steps_error_has_code check (
    error is null or (jsonb_typeof(error) = 'object' and coalesce(jsonb_typeof(error -> 'code'), '') = 'string')
  ),
  constraint agent_run_steps_timings_in_order check (finished_at >= started_at)
);

-- A run's steps in order; covers agent_run_steps_run_fkey.
create index agent_run_steps_user_id_run_id_position_idx on public.agent_run_steps (user_id, run_id, position);

alter table public.agent_run_steps enable row level security;
revoke all on table public.agent_run_steps from anon, authenticated;
grant select, insert on table public.agent_run_steps to authenticated;

create policy "Users can read the steps of their own runs" on public.agent_run_steps
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can record steps of their own runs" on public.agent_run_steps
  for insert to authenticated
  with check ((select auth.uid()) = user_id);
