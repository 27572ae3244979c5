-- A user's agents: their own (custom agents, CrewAI style: name, role, goal, backstory or
-- instructions, a subset of the tools, a model and a temperature), and their settings of the
-- built-in crew, which is declared in code (shared/ai/crew.ts). A built-in's row holds only what a
-- user may change about it: the model, the temperature, extra instructions, and whether it is on.
-- See docs/adr/0019-agent-registry.md.

create table public.agents (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  -- The built-in agent these are settings of ('planner'); null for the user's own agent.
  builtin_id text,
  name text,
  description text,
  role text,
  goal text,
  backstory text,
  -- The agent's instructions, or for a built-in the user's extra instructions to it.
  instructions text,
  -- Names of the tools the agent may call, a subset of the ai function's tools.
  tools text[] not null default '{}',
  -- `provider:model`; null: the deployment's default (AI_DEFAULT_MODEL).
  model text,
  temperature numeric(3, 2),
  enabled boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint agents_user_id_id_key unique (user_id, id),
  -- One row of settings per built-in per user.
  constraint agents_user_id_builtin_id_key unique (user_id, builtin_id),
  constraint agents_builtin_id_format check (builtin_id ~ '^[a-z][a-z0-9_]{0,62}$'),
  -- A user's own agent says who it is; a built-in's identity comes from the code.
  constraint agents_own_agent_is_described check (
    builtin_id is not null or (name is not null and role is not null and goal is not null)
  ),
  constraint agents_builtin_keeps_its_identity check (
    builtin_id is null or (
      name is null and description is null and role is null and goal is null and backstory is null
      and tools = '{}'
    )
  ),
  constraint agents_name_length check (char_length(btrim(name)) between 1 and 100),
  constraint agents_description_length check (char_length(description) <= 1000),
  constraint agents_role_length check (char_length(btrim(role)) between 1 and 500),
  constraint agents_goal_length check (char_length(btrim(goal)) between 1 and 2000),
  constraint agents_backstory_length check (char_length(backstory) <= 8000),
  constraint agents_instructions_length check (char_length(instructions) <= 8000),
  constraint agents_tools_are_names check (
    cardinality(tools) <= 64 and array_to_string(tools, ',') ~ '^([a-z][a-z0-9_]{0,62}(,|$))*$'
  ),
  constraint agents_model_format check (char_length(model) <= 200 and model ~ '^[a-z][a-z0-9-]*:.+$'),
  constraint agents_temperature_range check (temperature between 0 and 2)
);

-- Two of a user's own agents may not share a name (the coordinator delegates to them by name).
create unique index agents_user_id_name_key on public.agents (user_id, lower(name)) where builtin_id is null;

create trigger set_updated_at
  before update on public.agents
  for each row execute function public.set_updated_at();

alter table public.agents enable row level security;
revoke all on table public.agents from anon, authenticated;
grant select, insert, update, delete on table public.agents to authenticated;

create policy "Users can read their own agents" on public.agents
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can create their own agents" on public.agents
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "Users can update their own agents" on public.agents
  for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "Users can delete their own agents" on public.agents
  for delete to authenticated
  using ((select auth.uid()) = user_id);
