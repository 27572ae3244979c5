-- Provenance for notes, goals and reflections, as tasks have it: who made the row (the user, or an
-- agent acting for them), which agent run and message it came from, and whether the user has since
-- edited it. The verbs fill these from the actor of the change; the HTTP routes act as the user.
--
-- source_reference is null for the user's own rows and {agent_id, run_id, message_id} for an
-- agent's (more keys may follow). edited_by_user is set when the user, not an agent, changes the row.
-- Tasks keep their own task_source, which also has 'note' for a note's checklist items.

create type public.record_source as enum ('manual', 'agent');

alter table public.notes
  add column source public.record_source not null default 'manual',
  add column source_reference jsonb,
  add column edited_by_user boolean not null default false,
  add constraint notes_source_reference_names_the_agent check (coalesce(
    (source = 'manual' and source_reference is null)
    or (source = 'agent'
        and jsonb_typeof(source_reference -> 'agent_id') = 'string'
        and jsonb_typeof(source_reference -> 'run_id') = 'string'
        and jsonb_typeof(source_reference -> 'message_id') = 'string'),
    false));

alter table public.goals
  add column source public.record_source not null default 'manual',
  add column source_reference jsonb,
  add column edited_by_user boolean not null default false,
  add constraint goals_source_reference_names_the_agent check (coalesce(
    (source = 'manual' and source_reference is null)
    or (source = 'agent'
        and jsonb_typeof(source_reference -> 'agent_id') = 'string'
        and jsonb_typeof(source_reference -> 'run_id') = 'string'
        and jsonb_typeof(source_reference -> 'message_id') = 'string'),
    false));

alter table public.reflections
  add column source public.record_source not null default 'manual',
  add column source_reference jsonb,
  add column edited_by_user boolean not null default false,
  add constraint reflections_source_reference_names_the_agent check (coalesce(
    (source = 'manual' and source_reference is null)
    or (source = 'agent'
        and jsonb_typeof(source_reference -> 'agent_id') = 'string'
        and jsonb_typeof(source_reference -> 'run_id') = 'string'
        and jsonb_typeof(source_reference -> 'message_id') = 'string'),
    false));

comment on column public.notes.source_reference is
  'Null for the user''s own note; {agent_id, run_id, message_id} for one an agent made.';
comment on column public.goals.source_reference is
  'Null for the user''s own goal; {agent_id, run_id, message_id} for one an agent made.';
comment on column public.reflections.source_reference is
  'Null for the user''s own reflection; {agent_id, run_id, message_id} for one an agent made.';
