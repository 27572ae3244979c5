-- Planning: goals in a tree of timeframes, and reflections.

create table public.goals (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  parent_goal_id uuid,
  title text not null,
  description text,
  timeframe public.goal_timeframe not null,
  status public.goal_status not null default 'not_started',
  progress integer not null default 0,
  priority public.goal_priority not null default 'medium',
  due_date date,
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint goals_user_id_id_key unique (user_id, id),
  -- Deleting a goal keeps its sub-goals as top-level goals. The column list matters: a plain
  -- `set null` would null user_id too.
  constraint goals_parent_goal_fkey foreign key (user_id, parent_goal_id)
    references public.goals (user_id, id) on delete set null (parent_goal_id),
  constraint goals_not_own_parent check (parent_goal_id <> id),
  constraint goals_title_length check (char_length(title) between 1 and 500),
  constraint goals_description_length check (char_length(description) <= 100000),
  constraint goals_progress_range check (progress between 0 and 100),
  constraint goals_metadata_is_object check (jsonb_typeof(metadata) = 'object')
);

create index goals_user_id_created_at_idx on public.goals (user_id, created_at desc, id desc);
create index goals_user_id_timeframe_idx on public.goals (user_id, timeframe);
create index goals_user_id_status_idx on public.goals (user_id, status);
-- Sub-goals of a goal; covers goals_parent_goal_fkey.
create index goals_user_id_parent_goal_id_idx on public.goals (user_id, parent_goal_id);

create trigger set_updated_at
  before update on public.goals
  for each row execute function public.set_updated_at();

create table public.reflections (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  reflection_type public.reflection_type not null,
  title text,
  content text not null,
  -- Optional self-rating, 1 (low) to 5 (high).
  mood smallint,
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint reflections_title_length check (char_length(title) <= 500),
  constraint reflections_content_length check (char_length(content) between 1 and 100000),
  constraint reflections_mood_range check (mood between 1 and 5),
  constraint reflections_metadata_is_object check (jsonb_typeof(metadata) = 'object')
);

-- Lists are newest first, filtered by type and a created_at range.
create index reflections_user_id_created_at_idx on public.reflections (user_id, created_at desc, id desc);
create index reflections_user_id_type_created_at_idx
  on public.reflections (user_id, reflection_type, created_at desc, id desc);

create trigger set_updated_at
  before update on public.reflections
  for each row execute function public.set_updated_at();
