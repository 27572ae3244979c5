-- Goals are searchable by full text, as notes and tasks are (issue 11.4): `GET planning/goals?q=`
-- and the agents' list_goals. The same 'simple' configuration and weights as tasks (ADR 0016):
-- the title counts more than the description.
alter table public.goals
  add column search tsvector generated always as (
    setweight(to_tsvector('simple'::regconfig, title), 'A')
    || setweight(to_tsvector('simple'::regconfig, coalesce(description, '')), 'B')
  ) stored;

create index goals_search_idx on public.goals using gin (search);

-- The trace of agents' changes leaves generated columns out (20261202001000_agent_run_actions.sql):
-- the goals' trigger now names the new one, as the notes' and tasks' do.
drop trigger record_agent_changes on public.goals;
create trigger record_agent_changes
  after insert or update or delete on public.goals
  for each row
  when (pg_catalog.current_setting('consilium.agent_run_id', true) <> ''
        or pg_catalog.current_setting('consilium.undo_row', true) <> '')
  execute function private.record_agent_change('search');
