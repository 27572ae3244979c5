-- The trace of what agents change: every insert, update and delete an agent makes on notes, tasks,
-- goals and reflections is recorded in the same transaction as the change, with the run, the tool
-- call (the id of its agent_run_steps row), the table, the row, the operation and the row before
-- and after. Cascades are recorded too (a note's checklist tasks that go with it, sub-goals that
-- lose their parent), since they are rows changed by the same statement. `POST ai/runs/{id}/undo`
-- reads the trace back, newest first, to take a run's changes back. See docs/adr/0029-trace-and-undo.md.
--
-- Who writes it: a trigger on the four tables, when the transaction's settings name an agent's run.
-- The ai function sets `consilium.agent_run_id` and `consilium.agent_step_id` (transaction-local,
-- beside the user's claims) when an agent acts for the user; a user's own requests set them empty,
-- so their edits are not traced. The trigger checks that the run is the signed-in user's: settings
-- that name another user's run are refused, and nobody writes the table directly.

alter table public.agent_runs
  add column undone_at timestamptz,
  add constraint agent_runs_undone_when_finished check (undone_at is null or finished_at is not null);

comment on column public.agent_runs.undone_at is 'When the run''s changes were taken back (POST ai/runs/{id}/undo).';

create table public.agent_run_actions (
  id uuid primary key default gen_random_uuid(),
  -- The order the changes were made in (an undo goes the other way). Unique as only the identity
  -- writes it (nobody inserts rows but the trigger, which leaves it to the identity).
  seq bigint generated always as identity,
  user_id uuid not null references auth.users (id) on delete cascade,
  run_id uuid not null,
  -- The tool call that made the change: the id of its agent_run_steps row, which is written once
  -- the call is done (so no foreign key: the step row comes after the change, in another transaction).
  step_id uuid,
  table_name text not null,
  row_id uuid not null,
  operation text not null,
  -- The row as it was and as it became (without generated columns); null before an insert, after a delete.
  before jsonb,
  after jsonb,
  created_at timestamptz not null default clock_timestamp(),
  -- When an undo took this change back; null while it stands.
  undone_at timestamptz,
  constraint agent_run_actions_run_fkey foreign key (user_id, run_id)
    references public.agent_runs (user_id, id) on delete cascade,
  constraint agent_run_actions_table_name_known check (table_name in ('notes', 'tasks', 'goals', 'reflections')),
  constraint agent_run_actions_operation_known check (operation in ('insert', 'update', 'delete')),
  constraint agent_run_actions_rows_follow_operation check (
    (before is null) = (operation = 'insert') and (after is null) = (operation = 'delete')
  )
);

-- A run's actions in order; covers agent_run_actions_run_fkey.
create index agent_run_actions_user_id_run_id_seq_idx on public.agent_run_actions (user_id, run_id, seq);

-- A record: its user reads it; nobody inserts, changes or deletes it directly (it goes with its run).
alter table public.agent_run_actions enable row level security;
revoke all on table public.agent_run_actions from anon, authenticated;
grant select on table public.agent_run_actions to authenticated;

create policy "Users can read the actions of their own runs" on public.agent_run_actions
  for select to authenticated
  using ((select auth.uid()) = user_id);

-- The trigger. Runs as its owner to write the table nobody else writes, so it checks the caller
-- itself. While an undo takes back one row (`consilium.undo_row` = 'table/id'), a change to any
-- other row of these tables — a cascade of the undo, such as deleting a task the run made that the
-- user has since given a subtask — is refused with CS409, which the undo reports as blocking.
create function private.record_agent_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  undoing text := pg_catalog.current_setting('consilium.undo_row', true);
  caller uuid := (select auth.uid());
  run uuid;
  step uuid;
  changed uuid;
  generated text[];
  was jsonb;
  became jsonb;
begin
  if tg_op = 'DELETE' then
    changed := old.id;
  else
    changed := new.id;
  end if;

  if coalesce(undoing, '') <> '' then
    if undoing <> tg_table_name || '/' || changed::text then
      raise exception 'Taking this change back would also change %/%, which the run did not change', tg_table_name, changed
        using errcode = 'CS409';
    end if;
    return null;
  end if;

  run := nullif(pg_catalog.current_setting('consilium.agent_run_id', true), '')::uuid;
  if run is null then
    return null;
  end if;
  step := nullif(pg_catalog.current_setting('consilium.agent_step_id', true), '')::uuid;
  if caller is null or not exists (
    select 1 from public.agent_runs r where r.id = run and r.user_id = caller
  ) then
    raise exception 'An agent''s change must name a run of the signed-in user'
      using errcode = 'insufficient_privilege';
  end if;

  -- The table's generated columns (its trigger's arguments) are left out: they follow from the rest.
  generated := coalesce(tg_argv, '{}');
  if tg_op <> 'INSERT' then
    was := pg_catalog.to_jsonb(old) operator(pg_catalog.-) generated;
  end if;
  if tg_op <> 'DELETE' then
    became := pg_catalog.to_jsonb(new) operator(pg_catalog.-) generated;
  end if;

  insert into public.agent_run_actions (user_id, run_id, step_id, table_name, row_id, operation, before, after)
  values (caller, run, step, tg_table_name, changed, pg_catalog.lower(tg_op), was, became);
  return null;
end;
$$;

revoke all on function private.record_agent_change() from public, anon, authenticated;

-- After the row's change (so `new` is the row as stored). The WHEN clause keeps the user's own
-- writes from calling the function at all. The arguments name the table's generated columns
-- (pgTAP 74 checks that they are all named).
create trigger record_agent_changes
  after insert or update or delete on public.notes
  for each row
  when (pg_catalog.current_setting('consilium.agent_run_id', true) <> ''
        or pg_catalog.current_setting('consilium.undo_row', true) <> '')
  execute function private.record_agent_change('search');

create trigger record_agent_changes
  after insert or update or delete on public.tasks
  for each row
  when (pg_catalog.current_setting('consilium.agent_run_id', true) <> ''
        or pg_catalog.current_setting('consilium.undo_row', true) <> '')
  execute function private.record_agent_change('search');

create trigger record_agent_changes
  after insert or update or delete on public.goals
  for each row
  when (pg_catalog.current_setting('consilium.agent_run_id', true) <> ''
        or pg_catalog.current_setting('consilium.undo_row', true) <> '')
  execute function private.record_agent_change();

create trigger record_agent_changes
  after insert or update or delete on public.reflections
  for each row
  when (pg_catalog.current_setting('consilium.agent_run_id', true) <> ''
        or pg_catalog.current_setting('consilium.undo_row', true) <> '')
  execute function private.record_agent_change();

-- Marks the actions an undo took back. Runs as its owner (nobody writes the table directly) and
-- touches only the caller's own actions of the run.
create function private.mark_actions_undone(target_run uuid, actions uuid[])
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  caller uuid := (select auth.uid());
begin
  if caller is null then
    raise exception 'Only a signed-in user''s request can undo a run' using errcode = 'insufficient_privilege';
  end if;
  update public.agent_run_actions a set undone_at = pg_catalog.now()
  where a.user_id = caller and a.run_id = target_run and a.id = any (actions) and a.undone_at is null;
end;
$$;

revoke all on function private.mark_actions_undone(uuid, uuid[]) from public, anon;
grant execute on function private.mark_actions_undone(uuid, uuid[]) to authenticated;

-- Takes back a run's changes, newest first, as the caller (security invoker: their RLS decides every
-- row). Each change is taken back only if its row is still as the run left it (every column but
-- updated_at compared): a created row is deleted, an updated row gets its columns back, a deleted
-- row is inserted again with its id. A row changed since (by the user or another run), deleted
-- since, recreated since, one whose undo would cascade to rows the run did not change, or that no
-- longer fits a rule, is skipped, each in a savepoint of its own, and returned with the reason.
-- The caller decides: commit (force) or roll everything back (409).
--
-- A cascade's rows are traced after the row that caused them (Postgres fires the foreign keys'
-- cascaded changes' triggers after the statement's own), so newest first would recreate a
-- checklist task before its note. A change refused by a foreign key is therefore tried again
-- after the others (with the older changes of its row behind it), pass after pass while passes
-- take something back: a deleted note, then its sub-notes and checklist tasks.
-- Returns {reverted: [action ids], skipped: [{action_id, table_name, row_id, operation, reason}]}.
create function private.undo_agent_run(target_run uuid)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  pending jsonb[];
  waiting jsonb[];
  item jsonb;
  tbl text;
  target uuid;
  row_key text;
  blocked text[];
  current jsonb;
  columns text;
  generated text[];
  shapes jsonb := '{}';
  reason text;
  retry boolean;
  progress boolean;
  same boolean;
  reverted uuid[] := '{}';
  skipped jsonb := '[]';
begin
  select coalesce(pg_catalog.array_agg(pg_catalog.to_jsonb(a) order by a.seq desc), '{}') into pending
  from (
    select x.id, x.seq, x.table_name, x.row_id, x.operation, x.before, x.after
    from public.agent_run_actions x
    where x.run_id = target_run and x.undone_at is null
  ) a;

  loop
    waiting := '{}';
    blocked := '{}';
    progress := false;
    foreach item in array pending loop
      tbl := item ->> 'table_name';
      target := (item ->> 'row_id')::uuid;
      row_key := tbl || '/' || target::text;
      -- A newer change of this row waits for a retry: this older one waits behind it.
      if row_key = any (blocked) then
        waiting := waiting || item;
        continue;
      end if;
      if not shapes ? tbl then
        shapes := shapes || pg_catalog.jsonb_build_object(tbl, (
          select pg_catalog.jsonb_build_object(
            'columns', pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' order by a.attnum)
                         filter (where a.attgenerated = ''),
            'generated', coalesce(pg_catalog.jsonb_agg(a.attname) filter (where a.attgenerated <> ''), '[]'))
          from pg_catalog.pg_attribute a
          where a.attrelid = pg_catalog.to_regclass('public.' || tbl) and a.attnum > 0 and not a.attisdropped));
      end if;
      columns := shapes -> tbl ->> 'columns';
      select coalesce(pg_catalog.array_agg(g), '{}') into generated
      from pg_catalog.jsonb_array_elements_text(shapes -> tbl -> 'generated') as g;
      reason := null;
      retry := false;
      begin
        perform pg_catalog.set_config('consilium.undo_row', row_key, true);
        execute pg_catalog.format('select pg_catalog.to_jsonb(t) from public.%I t where t.id = $1 for update', tbl)
          into current using target;
        if item ->> 'operation' = 'delete' then
          if current is not null then
            reason := 'The row exists again';
          else
            execute pg_catalog.format(
              'insert into public.%1$I (%2$s) select %2$s from pg_catalog.jsonb_populate_record(null::public.%1$I, $1)',
              tbl, columns)
              using item -> 'before';
          end if;
        elsif current is null then
          -- A row the run made and someone has deleted since is already gone: nothing to take back.
          if item ->> 'operation' = 'update' then
            reason := 'The row was deleted after the run changed it';
          end if;
        else
          -- Compared as the table's row type, so the jsonb's formatting of times does not matter.
          execute pg_catalog.format(
            'select ($1 operator(pg_catalog.-) $3 operator(pg_catalog.-) ''updated_at''::text)
                    operator(pg_catalog.=)
                    (pg_catalog.to_jsonb(pg_catalog.jsonb_populate_record(null::public.%I, $2))
                     operator(pg_catalog.-) $3 operator(pg_catalog.-) ''updated_at''::text)',
            tbl)
            into same using current, item -> 'after', generated;
          if not same then
            reason := pg_catalog.format('The row was changed after the run %s it',
              case item ->> 'operation' when 'insert' then 'created' else 'updated' end);
          elsif item ->> 'operation' = 'insert' then
            execute pg_catalog.format('delete from public.%I where id = $1', tbl) using target;
          else
            execute pg_catalog.format(
              'update public.%1$I set (%2$s) = (select %2$s from pg_catalog.jsonb_populate_record(null::public.%1$I, $2))
               where id = $1',
              tbl, columns)
              using target, item -> 'before';
          end if;
        end if;
      exception
        when sqlstate 'CS409' then
          reason := sqlerrm;
        when foreign_key_violation then
          retry := true;
        when unique_violation then
          reason := 'Another row now holds its place';
        when check_violation then
          reason := 'It no longer fits the rules of the data';
      end;
      if retry then
        blocked := blocked || row_key;
        waiting := waiting || (item || '{"refused": true}');
      elsif reason is null then
        reverted := reverted || (item ->> 'id')::uuid;
        progress := true;
      else
        skipped := skipped || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
          'action_id', item -> 'id', 'table_name', tbl, 'row_id', target,
          'operation', item -> 'operation', 'reason', reason));
      end if;
    end loop;
    exit when pg_catalog.cardinality(waiting) = 0;
    if not progress then
      -- Nothing more can be taken back: what waits stays, for the reason it waits.
      foreach item in array waiting loop
        skipped := skipped || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
          'action_id', item -> 'id', 'table_name', item -> 'table_name', 'row_id', item -> 'row_id',
          'operation', item -> 'operation',
          'reason', case when item ? 'refused' then 'A row it belongs to or refers to is gone'
                         else 'A later change of the same row could not be taken back' end));
      end loop;
      exit;
    end if;
    pending := waiting;
  end loop;
  perform pg_catalog.set_config('consilium.undo_row', '', true);
  perform private.mark_actions_undone(target_run, reverted);
  return pg_catalog.jsonb_build_object('reverted', pg_catalog.to_jsonb(reverted), 'skipped', skipped);
end;
$$;

revoke all on function private.undo_agent_run(uuid) from public, anon;
grant execute on function private.undo_agent_run(uuid) to authenticated;
