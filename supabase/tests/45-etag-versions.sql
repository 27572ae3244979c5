-- A row's updated_at is its ETag (docs/adr/0008-concurrency-and-idempotency.md), so every update
-- must give it a new, later value: even two updates within one tick of the clock (PGlite's
-- clock_timestamp() moves in milliseconds), and even when the clock is behind the row's last
-- version (20261201000400_strictly_increasing_versions.sql).
begin;
select plan(13);

select tests.create_supabase_user('alice');

-- Runs `updates` updates of one row back to back and returns its updated_at after each.
create function pg_temp.versions_of(rel regclass, row_id uuid, updates integer) returns timestamptz[]
language plpgsql as $$
declare
  version timestamptz;
  versions timestamptz[] := '{}';
begin
  for i in 1..updates loop
    execute format('update %s set updated_at = updated_at where id = $1 returning updated_at', rel)
      into strict version using row_id;
    versions := versions || version;
  end loop;
  return versions;
end
$$;

create function pg_temp.strictly_increasing(versions timestamptz[]) returns boolean
language sql immutable as $$
  select bool_and(versions[i] < versions[i + 1]) from generate_subscripts(versions, 1) i
  where i < cardinality(versions)
$$;

select is_empty(
  $$ select c.table_name from information_schema.columns c
     where c.table_schema = 'public' and c.column_name = 'updated_at'
       and not exists (
         select from pg_trigger t
         where t.tgrelid = format('public.%I', c.table_name)::regclass
           and t.tgfoid = 'public.set_updated_at'::regproc
           -- a row trigger (1), before (2), on update (16)
           and t.tgtype & (1 | 2 | 16) = (1 | 2 | 16)
           and t.tgenabled <> 'D'
       ) $$,
  'every table in public with an updated_at keeps it with the set_updated_at trigger'
);

insert into public.notes (id, user_id, title)
values ('a0000000-0000-4000-8000-000000000001', tests.get_supabase_uid('alice'), 'Note');
insert into public.tasks (id, user_id, title)
values ('a0000000-0000-4000-8000-000000000002', tests.get_supabase_uid('alice'), 'Task');
insert into public.goals (id, user_id, title, timeframe)
values ('a0000000-0000-4000-8000-000000000003', tests.get_supabase_uid('alice'), 'Goal', 'yearly');
insert into public.reflections (id, user_id, reflection_type, content)
values ('a0000000-0000-4000-8000-000000000004', tests.get_supabase_uid('alice'), 'daily', 'A day.');
insert into public.conversations (id, user_id)
values ('a0000000-0000-4000-8000-000000000005', tests.get_supabase_uid('alice'));
insert into public.messages (id, user_id, conversation_id, role, content)
values ('a0000000-0000-4000-8000-000000000006', tests.get_supabase_uid('alice'),
        'a0000000-0000-4000-8000-000000000005', 'user', 'Hi');
insert into public.documents (id, user_id, title)
values ('a0000000-0000-4000-8000-000000000007', tests.get_supabase_uid('alice'), 'Doc');
insert into public.document_chunks (id, user_id, document_id, chunk_index, content)
values ('a0000000-0000-4000-8000-000000000008', tests.get_supabase_uid('alice'),
        'a0000000-0000-4000-8000-000000000007', 0, 'Text');

create temporary table versions on commit drop as
select rel, pg_temp.versions_of(format('public.%I', rel)::regclass, row_id::uuid, 20) as versions
from (values
  ('profiles', tests.get_supabase_uid('alice')::text),
  ('notes', 'a0000000-0000-4000-8000-000000000001'),
  ('tasks', 'a0000000-0000-4000-8000-000000000002'),
  ('goals', 'a0000000-0000-4000-8000-000000000003'),
  ('reflections', 'a0000000-0000-4000-8000-000000000004'),
  ('conversations', 'a0000000-0000-4000-8000-000000000005'),
  ('messages', 'a0000000-0000-4000-8000-000000000006'),
  ('documents', 'a0000000-0000-4000-8000-000000000007'),
  ('document_chunks', 'a0000000-0000-4000-8000-000000000008')
) as rows (rel, row_id);

select ok(pg_temp.strictly_increasing(versions), rel || ': 20 updates of one row back to back in one transaction give 20 increasing versions')
from versions
order by rel;

-- A row whose version is ahead of the clock (written with a later updated_at, or the clock was set
-- back): each update moves it forward by a microsecond.
insert into public.notes (id, user_id, title, updated_at)
values ('a0000000-0000-4000-8000-000000000009', tests.get_supabase_uid('alice'), 'Ahead',
        '2999-01-01 00:00:00+00');

select is(
  pg_temp.versions_of('public.notes', 'a0000000-0000-4000-8000-000000000009', 2),
  array['2999-01-01 00:00:00.000001+00', '2999-01-01 00:00:00.000002+00']::timestamptz[],
  'updates move a version ahead of the clock forward by one microsecond each'
);

-- A client that sends an old ETag back as updated_at does not get it.
create temporary table before_write on commit drop as
select updated_at from public.notes where id = 'a0000000-0000-4000-8000-000000000001';

update public.notes set updated_at = '2000-01-01' where id = 'a0000000-0000-4000-8000-000000000001';

select ok(
  (select n.updated_at > b.updated_at from public.notes n, before_write b
   where n.id = 'a0000000-0000-4000-8000-000000000001'),
  'an update that sets updated_at to an old version gets a new one instead'
);

select ok(
  (select bool_and(updated_at >= created_at) from public.notes),
  'a version is never earlier than the row''s creation'
);

select * from finish();
rollback;
