-- Goals are searchable by full text, as notes and tasks are (issue 11.4): `GET planning/goals?q=`
-- and the agents' list_goals. The same 'simple' configuration and weights as tasks (ADR 0016):
-- the title counts more than the description.
alter table public.goals
  add column search tsvector generated always as (
    setweight(to_tsvector('simple'::regconfig, title), 'A')
    || setweight(to_tsvector('simple'::regconfig, coalesce(description, '')), 'B')
  ) stored;

create index goals_search_idx on public.goals using gin (search);
