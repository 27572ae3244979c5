-- Notes (BlockNote documents in a tree) and tasks (with subtasks, optionally mirrored from a note).
--
-- Every reference between a user's rows is a composite foreign key on (user_id, <id>) against a
-- unique (user_id, id) on the parent, so a row can only point at rows of the same user
-- (docs/adr/0002-same-user-foreign-keys.md). Each such key has an index that starts with its
-- columns, which also serves the matching list filter.

create table public.notes (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  parent_id uuid,
  title text not null default '',
  -- BlockNote's document: an array of blocks {id, type, props, content, children}.
  content jsonb not null default '[]',
  is_archived boolean not null default false,
  is_pinned boolean not null default false,
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint notes_user_id_id_key unique (user_id, id),
  -- Deleting a note deletes its subtree.
  constraint notes_parent_fkey foreign key (user_id, parent_id)
    references public.notes (user_id, id) on delete cascade,
  constraint notes_not_own_parent check (parent_id <> id),
  constraint notes_title_length check (char_length(title) <= 500),
  constraint notes_content_is_array check (jsonb_typeof(content) = 'array'),
  constraint notes_content_max_1_mib check (octet_length(content::text) <= 1048576),
  constraint notes_metadata_is_object check (jsonb_typeof(metadata) = 'object')
);

-- The default list: not archived, pinned first, most recently changed first (keyset on id).
create index notes_user_id_list_idx
  on public.notes (user_id, is_archived, is_pinned desc, updated_at desc, id desc);
-- Children of a note (and `parent_id is null` for the roots); covers notes_parent_fkey.
create index notes_user_id_parent_id_idx on public.notes (user_id, parent_id);

create trigger set_updated_at
  before update on public.notes
  for each row execute function public.set_updated_at();

create table public.tasks (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  parent_id uuid,
  -- The note whose checklist item this task mirrors (source = 'note').
  note_id uuid,
  title text not null,
  description text,
  status public.task_status not null default 'todo',
  priority public.task_priority not null default 'medium',
  due_date date,
  due_time time,
  source public.task_source not null default 'manual',
  -- What made the task: e.g. {"note_id", "block_id"} for a checklist item, {"message_id"} for an agent.
  source_reference jsonb,
  completed_at timestamptz,
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint tasks_user_id_id_key unique (user_id, id),
  -- Subtasks go with their parent.
  constraint tasks_parent_fkey foreign key (user_id, parent_id)
    references public.tasks (user_id, id) on delete cascade,
  -- A checklist item's task lives as long as the block it mirrors, so it goes with its note.
  constraint tasks_note_fkey foreign key (user_id, note_id)
    references public.notes (user_id, id) on delete cascade,
  constraint tasks_not_own_parent check (parent_id <> id),
  constraint tasks_title_length check (char_length(title) between 1 and 500),
  constraint tasks_description_length check (char_length(description) <= 100000),
  constraint tasks_due_time_needs_due_date check (due_time is null or due_date is not null),
  constraint tasks_completed_at_only_when_done check (completed_at is null or status = 'done'),
  constraint tasks_source_reference_is_object check (jsonb_typeof(source_reference) = 'object'),
  constraint tasks_metadata_is_object check (jsonb_typeof(metadata) = 'object')
);

create index tasks_user_id_created_at_idx on public.tasks (user_id, created_at desc, id desc);
create index tasks_user_id_due_date_idx on public.tasks (user_id, due_date, due_time, id);
create index tasks_user_id_priority_idx on public.tasks (user_id, priority desc, id);
create index tasks_user_id_status_idx on public.tasks (user_id, status);
create index tasks_user_id_source_idx on public.tasks (user_id, source);
-- Cover the two same-user foreign keys and serve the `parent_id` filter and `notes/{id}/tasks`.
create index tasks_user_id_parent_id_idx on public.tasks (user_id, parent_id);
create index tasks_user_id_note_id_idx on public.tasks (user_id, note_id);

create trigger set_updated_at
  before update on public.tasks
  for each row execute function public.set_updated_at();
