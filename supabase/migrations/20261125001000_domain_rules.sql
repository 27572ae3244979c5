-- The rules of notes, tasks and goals that a foreign key or a check cannot state alone: trees
-- without cycles, goal timeframes that nest, checklist items mirrored by tasks, full-text search,
-- the indexes behind every list's filters and sorts, and the Idempotency-Key store.
-- See docs/adr/0007-checklist-sync.md and docs/adr/0008-concurrency-and-idempotency.md.
--
-- The rule triggers raise check_violation (23514) with a constraint name, so services can tell
-- which rule a request broke and answer it (409 for a cycle, 422 for a timeframe).

-- Trees: a row may not sit under itself or under one of its descendants. Moves of one user's rows
-- are serialized by an advisory lock, so two concurrent moves cannot build a cycle between them.

create function public.refuse_tree_cycles()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
-- tg_argv: the rule's constraint name, then its message.
declare
  cycle boolean;
begin
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtextextended(tg_table_name || ' tree ' || new.user_id::text, 0));
  execute pg_catalog.format(
    'with recursive ancestors (id, parent_id) as (
       select t.id, t.parent_id from %1$I.%2$I t where t.user_id = $1 and t.id = $2
       union
       select t.id, t.parent_id from %1$I.%2$I t join ancestors a on t.user_id = $1 and t.id = a.parent_id
     )
     select exists (select 1 from ancestors where id = $3)',
    tg_table_schema, tg_table_name)
  into cycle
  using new.user_id, new.parent_id, new.id;
  if cycle then
    raise exception '%', tg_argv[1] using errcode = 'check_violation', constraint = tg_argv[0];
  end if;
  return new;
end;
$$;

create trigger refuse_note_cycles
  before update of parent_id on public.notes
  for each row when (new.parent_id is not null and new.parent_id is distinct from old.parent_id)
  execute function public.refuse_tree_cycles(
    'notes_no_cycles', 'A note cannot be placed under itself or one of its own sub-notes');

create trigger refuse_task_cycles
  before update of parent_id on public.tasks
  for each row when (new.parent_id is not null and new.parent_id is distinct from old.parent_id)
  execute function public.refuse_tree_cycles(
    'tasks_no_cycles', 'A task cannot be a subtask of itself or of one of its own subtasks');

-- Goals: a parent's timeframe is no shorter than its child's (goal_timeframe is declared from
-- longest to shortest, so `parent.timeframe <= child.timeframe`), checked both when a goal gets a
-- parent and when a goal with sub-goals changes its timeframe; and no cycles (equal timeframes
-- would otherwise allow one).

create function public.check_goal_tree()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('goals tree ' || new.user_id::text, 0));
  if new.parent_goal_id is not null and exists (
    select 1 from public.goals p
    where p.user_id = new.user_id and p.id = new.parent_goal_id and p.timeframe > new.timeframe
  ) then
    raise exception 'A goal''s parent must have a timeframe at least as long as its own'
      using errcode = 'check_violation', constraint = 'goals_timeframe_within_parent';
  end if;
  if tg_op = 'UPDATE' and new.timeframe is distinct from old.timeframe and exists (
    select 1 from public.goals c
    where c.user_id = new.user_id and c.parent_goal_id = new.id and c.timeframe < new.timeframe
  ) then
    raise exception 'A goal''s timeframe must be at least as long as each of its sub-goals'''
      using errcode = 'check_violation', constraint = 'goals_timeframe_within_parent';
  end if;
  if tg_op = 'UPDATE' and new.parent_goal_id is not null and exists (
    with recursive ancestors (id, parent_goal_id) as (
      select g.id, g.parent_goal_id from public.goals g where g.user_id = new.user_id and g.id = new.parent_goal_id
      union
      select g.id, g.parent_goal_id from public.goals g
      join ancestors a on g.user_id = new.user_id and g.id = a.parent_goal_id
    )
    select 1 from ancestors where id = new.id
  ) then
    raise exception 'A goal cannot be a sub-goal of itself or of one of its own sub-goals'
      using errcode = 'check_violation', constraint = 'goals_no_cycles';
  end if;
  return new;
end;
$$;

create trigger check_goal_tree
  before insert or update of parent_goal_id, timeframe on public.goals
  for each row execute function public.check_goal_tree();

revoke execute on function public.refuse_tree_cycles() from public, anon, authenticated;
revoke execute on function public.check_goal_tree() from public, anon, authenticated;

-- Checklist items: a task with source 'note' mirrors one checkListItem block of its note, named by
-- source_reference {note_id, block_id}; one task per block. edited_by_user records that the user
-- changed the task through the tasks API, after which saving the note no longer renames it.

alter table public.tasks
  add column edited_by_user boolean not null default false,
  add constraint tasks_note_items_name_their_block check (
    source <> 'note'
    or (note_id is not null
        and source_reference ->> 'note_id' = note_id::text
        and source_reference ->> 'block_id' is not null)
  );

create unique index tasks_note_block_key
  on public.tasks (user_id, note_id, (source_reference ->> 'block_id'))
  where source = 'note';

-- Full-text search. A note's content is BlockNote JSON: its words are the `text` of every inline
-- text node (in paragraphs, links, table cells, at any depth), which this function gathers.

create function public.blocknote_text(content jsonb)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  select coalesce(pg_catalog.string_agg(t.value #>> '{}', ' '), '')
  from pg_catalog.jsonb_path_query(content, 'strict $.**.text') as t (value)
$$;

alter table public.notes
  add column search tsvector generated always as (
    setweight(to_tsvector('simple'::regconfig, title), 'A')
    || setweight(to_tsvector('simple'::regconfig, public.blocknote_text(content)), 'B')
  ) stored;

alter table public.tasks
  add column search tsvector generated always as (
    setweight(to_tsvector('simple'::regconfig, title), 'A')
    || setweight(to_tsvector('simple'::regconfig, coalesce(description, '')), 'B')
  ) stored;

create index notes_search_idx on public.notes using gin (search);
create index tasks_search_idx on public.tasks using gin (search);

-- List indexes, one per keyset order (and for the filters that narrow it most).
-- A note's children in list order.
create index notes_user_id_parent_list_idx
  on public.notes (user_id, parent_id, is_archived, is_pinned desc, updated_at desc, id desc);
-- Tasks by due date: dateless tasks last, written as sentinel values so the keyset is one row comparison.
create index tasks_user_id_due_keyset_idx
  on public.tasks (user_id, coalesce(due_date, 'infinity'::date), coalesce(due_time, '24:00'::time), id);
-- Tasks by priority, newest first within one priority.
create index tasks_user_id_priority_keyset_idx on public.tasks (user_id, priority, created_at, id);
-- Subtasks and a note's tasks, in creation order.
create index tasks_user_id_parent_created_idx on public.tasks (user_id, parent_id, created_at, id);
create index tasks_user_id_note_created_idx on public.tasks (user_id, note_id, created_at, id);
-- Sub-goals in creation order (GET planning/goals/{id} and the parent_goal_id filter).
create index goals_user_id_parent_created_idx on public.goals (user_id, parent_goal_id, created_at desc, id desc);

-- The indexes above begin with the columns of these, which they replace (foreign keys included):
-- one index fewer to maintain on every write.
drop index public.tasks_user_id_due_date_idx;
drop index public.tasks_user_id_priority_idx;
drop index public.tasks_user_id_parent_id_idx;
drop index public.tasks_user_id_note_id_idx;
drop index public.notes_user_id_parent_id_idx;
drop index public.goals_user_id_parent_goal_id_idx;

-- Idempotency-Key: the first response to a POST with a key, replayed for 24 hours to the same
-- user repeating the same request; request_hash tells a repeat from a different request.
create table public.idempotency_keys (
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  -- The operation the key was used for (e.g. 'notes.create'); a key is unique per user and scope.
  scope text not null,
  key text not null,
  request_hash text not null,
  -- Null until the first request's transaction stores its response (the two commit together).
  response_status smallint,
  response_body jsonb,
  created_at timestamptz not null default now(),
  constraint idempotency_keys_pkey primary key (user_id, scope, key),
  constraint idempotency_keys_key_length check (char_length(key) between 1 and 255),
  constraint idempotency_keys_scope_length check (char_length(scope) between 1 and 100)
);

-- Finds a user's expired keys to purge.
create index idempotency_keys_user_id_created_at_idx on public.idempotency_keys (user_id, created_at);

alter table public.idempotency_keys enable row level security;
revoke all on table public.idempotency_keys from anon;
revoke truncate, references, trigger on table public.idempotency_keys from authenticated;

create policy "Users can read their own idempotency keys" on public.idempotency_keys
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can record their own idempotency keys" on public.idempotency_keys
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "Users can update their own idempotency keys" on public.idempotency_keys
  for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "Users can delete their own idempotency keys" on public.idempotency_keys
  for delete to authenticated
  using ((select auth.uid()) = user_id);
