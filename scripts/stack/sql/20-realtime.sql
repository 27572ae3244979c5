-- The realtime schema and publication as hosted Supabase Realtime has them: realtime.messages
-- partitioned by day and owned by supabase_realtime_admin, the API roles without DELETE on it,
-- and realtime.send() that turns its errors into warnings. Idempotent: runs on every start.

create schema if not exists realtime;
grant usage on schema realtime to postgres, anon, authenticated, service_role;
grant all on schema realtime to supabase_realtime_admin;

create table if not exists realtime.messages (
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp not null default now(),
  inserted_at timestamp not null default now(),
  id uuid not null default gen_random_uuid(),
  binary_payload bytea,
  constraint messages_payload_exclusive check (payload is null or binary_payload is null),
  primary key (id, inserted_at)
) partition by range (inserted_at);
create index if not exists messages_inserted_at_topic_index on realtime.messages (inserted_at desc, topic)
  where extension = 'broadcast' and private is true;
alter table realtime.messages owner to supabase_realtime_admin;
alter table realtime.messages enable row level security;
grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;

-- Hosted Realtime keeps a partition for each day from yesterday to three days ahead and drops
-- older ones. The default partition (local only) takes what falls outside while the stack runs
-- for days; it is emptied on start so that the day partitions can be made.
do $$
declare
  day date;
  old record;
begin
  for old in
    select c.relname from pg_catalog.pg_inherits i
    join pg_catalog.pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'realtime.messages'::regclass
      and c.relname ~ '^messages_\d{4}_\d{2}_\d{2}$'
      and to_date(substr(c.relname, 10), 'YYYY_MM_DD') < current_date - 1
  loop
    execute format('drop table realtime.%I', old.relname);
  end loop;
  if to_regclass('realtime.messages_default') is not null then
    delete from realtime.messages_default;
  end if;
  for day in select generate_series(current_date - 1, current_date + 3, interval '1 day')::date loop
    execute format(
      'create table if not exists realtime.%I partition of realtime.messages for values from (%L) to (%L)',
      'messages_' || to_char(day, 'YYYY_MM_DD'), day, day + 1
    );
    execute format('alter table realtime.%I owner to supabase_realtime_admin', 'messages_' || to_char(day, 'YYYY_MM_DD'));
  end loop;
  create table if not exists realtime.messages_default partition of realtime.messages default;
  alter table realtime.messages_default owner to supabase_realtime_admin;
end
$$;

create or replace function realtime.topic() returns text language sql stable as $$
  select nullif(current_setting('realtime.topic', true), '')::text
$$;
alter function realtime.topic() owner to supabase_realtime_admin;
grant execute on function realtime.topic() to postgres, anon, authenticated, service_role;

-- As hosted Realtime defines them: the caller's rights (RLS on realtime.messages decides), the
-- topic set for the rest of the transaction, the message id added to the payload, and a failure
-- reported as a warning rather than failing the caller's transaction.
create or replace function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void language plpgsql as $$
declare
  generated_id uuid;
  final_payload jsonb;
begin
  begin
    generated_id := gen_random_uuid();
    if payload ? 'id' then
      final_payload := payload;
    else
      final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
    end if;
    execute format('set local realtime.topic to %L', topic);
    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (generated_id, final_payload, event, topic, private, 'broadcast');
  exception
    when others then
      raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
end;
$$;
alter function realtime.send(jsonb, text, text, boolean) owner to supabase_realtime_admin;
grant execute on function realtime.send(jsonb, text, text, boolean) to postgres, anon, authenticated, service_role;

create or replace function realtime.send_binary(payload bytea, event text, topic text, private boolean default true)
returns void language plpgsql as $$
declare
  generated_id uuid;
begin
  begin
    generated_id := gen_random_uuid();
    execute format('set local realtime.topic to %L', topic);
    insert into realtime.messages (id, binary_payload, event, topic, private, extension)
    values (generated_id, payload, event, topic, private, 'broadcast');
  exception
    when others then
      raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
end;
$$;
alter function realtime.send_binary(bytea, text, text, boolean) owner to supabase_realtime_admin;
grant execute on function realtime.send_binary(bytea, text, text, boolean) to postgres, anon, authenticated, service_role;

do $$
begin
  if not exists (select from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$$;
-- Migrations add their tables to it (alter publication … add table), as postgres.
alter publication supabase_realtime owner to postgres;
