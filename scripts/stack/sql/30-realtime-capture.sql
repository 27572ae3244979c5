-- Local only (never in supabase/migrations): what the local Realtime server reads instead of
-- hosted Realtime's logical replication, which PGlite cannot do (wal_level is replica and every
-- connection shares one session), and which an existing server need not allow. Row triggers on the
-- tables in the supabase_realtime publication, and on realtime.messages for broadcasts, append to
-- an outbox the server reads, and notify `realtime_local` (once a transaction, at its commit) so it
-- reads at once; RLS is checked per subscriber when it delivers, as hosted Realtime's
-- realtime.apply_rls does. Idempotent: the local stack runs it on every start.

create schema if not exists realtime_local;
revoke all on schema realtime_local from public;

create table if not exists realtime_local.changes (
  id bigserial primary key,
  relid oid not null,
  schema_name text not null,
  table_name text not null,
  -- INSERT, UPDATE or DELETE for a row change, BROADCAST for a realtime.messages broadcast
  type text not null,
  record jsonb,
  old_record jsonb,
  commit_timestamp timestamptz not null default now()
);
create index if not exists changes_commit_timestamp_idx on realtime_local.changes (commit_timestamp);
-- The writing transaction: on a server where transactions overlap, ids are handed out in insert
-- order but become visible in commit order, so the server cannot read by id alone. It reads what
-- is visible from the oldest transaction still running at its last read (pg_snapshot_xmin) on,
-- and remembers what it delivered until that horizon passes it (scripts/stack/realtime/changes.ts).
alter table realtime_local.changes
  add column if not exists txid xid8 not null default pg_catalog.pg_current_xact_id();
create index if not exists changes_txid_idx on realtime_local.changes (txid, id);

-- security definer: the writer may be `authenticated`, which has no rights on the outbox.
create or replace function realtime_local.capture_change() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into realtime_local.changes (relid, schema_name, table_name, type, record, old_record)
  values (
    tg_relid, tg_table_schema, tg_table_name, tg_op,
    case when tg_op <> 'DELETE' then to_jsonb(new) end,
    case when tg_op <> 'INSERT' then to_jsonb(old) end
  );
  -- One payload for every row: PostgreSQL folds a transaction's equal notifications into one.
  perform pg_catalog.pg_notify('realtime_local', '');
  return null;
end
$$;

create or replace function realtime_local.capture_broadcast() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into realtime_local.changes (relid, schema_name, table_name, type, record)
  values (tg_relid, tg_table_schema, tg_table_name, 'BROADCAST', to_jsonb(new));
  perform pg_catalog.pg_notify('realtime_local', '');
  return null;
end
$$;

create or replace trigger realtime_local_capture_broadcast
  after insert on realtime.messages
  for each row when (new.extension = 'broadcast')
  execute function realtime_local.capture_broadcast();

-- Attaches the capture trigger to every table in the publication and removes it from tables that
-- left it. security definer: the caller may be postgres, which owns the tables but may not use
-- this schema.
create or replace function realtime_local.sync_capture() returns void
language plpgsql security definer set search_path = '' as $$
declare
  rel regclass;
begin
  for rel in
    select format('%I.%I', p.schemaname, p.tablename)::regclass
    from pg_catalog.pg_publication_tables p
    where p.pubname = 'supabase_realtime'
      and not exists (
        select from pg_catalog.pg_trigger t
        where t.tgrelid = format('%I.%I', p.schemaname, p.tablename)::regclass
          and t.tgname = 'realtime_local_capture'
      )
  loop
    execute format(
      'create trigger realtime_local_capture after insert or update or delete on %s '
      'for each row execute function realtime_local.capture_change()', rel
    );
  end loop;

  for rel in
    select t.tgrelid::regclass
    from pg_catalog.pg_trigger t
    where t.tgname = 'realtime_local_capture'
      and not exists (
        select from pg_catalog.pg_publication_tables p
        where p.pubname = 'supabase_realtime'
          and format('%I.%I', p.schemaname, p.tablename)::regclass = t.tgrelid
      )
  loop
    execute format('drop trigger realtime_local_capture on %s', rel);
  end loop;
end
$$;

-- A migration that adds a table to the publication gets its trigger in the same transaction.
create or replace function realtime_local.on_publication_change() returns event_trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform realtime_local.sync_capture();
end
$$;

do $$
begin
  if not exists (select from pg_event_trigger where evtname = 'realtime_local_publication') then
    create event trigger realtime_local_publication on ddl_command_end
      when tag in ('CREATE PUBLICATION', 'ALTER PUBLICATION', 'DROP PUBLICATION')
      execute function realtime_local.on_publication_change();
  end if;
end
$$;

select realtime_local.sync_capture();

-- The functions below that act as a client set what hosted Realtime sets on its connection: the
-- role, the JWT claims (whole, and the sub and role that auth.uid() and auth.role() read first)
-- and the channel topic, all transaction-local; their SET clause undoes these settings when they
-- return. Their search_path is the database's default, so that the helper functions policies
-- call resolve as they do for any other client.

-- Which extensions ('broadcast', 'presence') the client may read on a private topic: probe rows
-- are inserted, selected back under the client's role and claims, and rolled back.
create or replace function realtime_local.readable(topic text, claims jsonb, extensions text[]) returns text[]
language plpgsql set search_path = public, extensions as $$
declare
  probes jsonb;
  allowed text[];
begin
  begin
    with inserted as (
      insert into realtime.messages (topic, extension)
      select readable.topic, e from unnest(extensions) e
      returning id, extension
    )
    select jsonb_object_agg(id, extension) into probes from inserted;

    perform
      set_config('role', claims ->> 'role', true),
      set_config('request.jwt.claims', claims::text, true),
      set_config('request.jwt.claim.sub', coalesce(claims ->> 'sub', ''), true),
      set_config('request.jwt.claim.role', claims ->> 'role', true),
      set_config('realtime.topic', topic, true);
    select coalesce(array_agg(m.extension order by m.extension), '{}') into allowed
    from realtime.messages m
    where m.id in (select k::uuid from jsonb_object_keys(probes) k);

    raise sqlstate 'RLPRB';
  exception when sqlstate 'RLPRB' then
    return allowed;
  end;
end
$$;

-- Which extensions the client may write (broadcast, track) on a private topic: an insert as the
-- client for each, rolled back.
create or replace function realtime_local.writable(topic text, claims jsonb, extensions text[]) returns text[]
language plpgsql set search_path = public, extensions as $$
declare
  extension_ text;
  allowed text[] := '{}';
begin
  begin
    perform
      set_config('role', claims ->> 'role', true),
      set_config('request.jwt.claims', claims::text, true),
      set_config('request.jwt.claim.sub', coalesce(claims ->> 'sub', ''), true),
      set_config('request.jwt.claim.role', claims ->> 'role', true),
      set_config('realtime.topic', topic, true);
    foreach extension_ in array extensions loop
      begin
        insert into realtime.messages (topic, extension) values (writable.topic, extension_);
        allowed := allowed || extension_;
      exception when insufficient_privilege then
        null;
      end;
    end loop;
    raise sqlstate 'RLPRB';
  exception when sqlstate 'RLPRB' then
    return allowed;
  end;
end
$$;

-- Why a postgres_changes subscription cannot be made (null when it can), checked as hosted
-- Realtime's realtime.subscription_check_filters does; also makes sure its tables are captured.
-- filters: [[column, op, value, negate], ...] with `in` values as array literals.
create or replace function realtime_local.subscription_error(
  schema_name text, table_name text, filters jsonb, role_name text, selected text[]
) returns text
language plpgsql set search_path = '' as $$
declare
  rel regclass;
  found_any boolean := false;
  f jsonb;
  col text;
  op text;
  val text;
  col_type text;
  in_count int;
begin
  if not exists (select from pg_catalog.pg_roles where rolname = role_name) then
    return format('role %s does not exist', role_name);
  end if;

  for rel in
    select format('%I.%I', p.schemaname, p.tablename)::regclass
    from pg_catalog.pg_publication_tables p
    where p.pubname = 'supabase_realtime'
      and p.schemaname like (case schema_name when '*' then '%' else schema_name end) escape ''
      and p.tablename like (case table_name when '*' then '%' else table_name end) escape ''
  loop
    found_any := true;
    for f in select * from jsonb_array_elements(filters) loop
      col := f ->> 0;
      op := f ->> 1;
      val := f ->> 2;
      select format_type(a.atttypid, a.atttypmod) into col_type
      from pg_catalog.pg_attribute a
      where a.attrelid = rel and a.attname = col and a.attnum > 0 and not a.attisdropped
        and pg_catalog.has_column_privilege(role_name, rel, a.attnum, 'SELECT');
      if col_type is null then
        return format('invalid column for filter %s', col);
      end if;
      begin
        if op = 'in' then
          execute format('select cardinality(%L::%s[])', val, col_type) into in_count;
          if in_count > 100 then
            return 'too many values for `in` filter. Maximum 100';
          end if;
        elsif op = 'is' then
          if val not in ('null', 'true', 'false', 'unknown') then
            return 'invalid value for is filter: must be null, true, false, or unknown';
          elsif val <> 'null' and col_type <> 'boolean' then
            return format('is %s filter requires a boolean column, got %s', val, col_type);
          end if;
        elsif op in ('like', 'ilike') then
          execute format('select %L::%s %s %L', '', col_type, op, val);
        elsif op in ('match', 'imatch') then
          execute format('select %L::%s %s %L', '', col_type, case op when 'match' then '~' else '~*' end, val);
        else
          execute format('select %L::%s', val, col_type);
        end if;
      exception when others then
        return sqlerrm;
      end;
    end loop;
    if selected is not null and exists (
      select from unnest(selected) s
      where not exists (
        select from pg_catalog.pg_attribute a
        where a.attrelid = rel and a.attname = s and a.attnum > 0 and not a.attisdropped
      )
    ) then
      return 'invalid column for select';
    end if;
  end loop;

  if not found_any then
    return 'table not in the supabase_realtime publication';
  end if;
  perform realtime_local.sync_capture();
  return null;
end
$$;

-- Who sees one captured row change, as hosted Realtime's realtime.apply_rls decides it: filters
-- first, then (unless the table has no RLS or the change is a DELETE) the row selected as each
-- subscriber. One row per role: the parts of the change that role may see and who sees them.
-- subscribers: [{"id": text, "claims": index into claims, "filters": [[column, op, value, negate], ...]}]
create or replace function realtime_local.fanout(change_id bigint, subscribers jsonb, claims jsonb)
returns table (
  role_name text, subscriber_ids text[], columns jsonb, new_record jsonb, old_record jsonb, primary_key text[]
)
language plpgsql set search_path = public, extensions as $$
declare
  c realtime_local.changes;
  rel regclass;
  rls boolean;
  identity_kind "char";
  pk text[];
  identity_columns text[];
  old_identity jsonb;
  filter_row jsonb;
  verdicts jsonb := '{}';
  grp record;
  col_type text;
  op_sql text;
  result jsonb;
  passing jsonb := '[]';
  claim_set record;
  hidden text[];
  seen boolean;
  visible_ids text[];
begin
  select * into c from realtime_local.changes x where x.id = change_id;
  if not found or c.type = 'BROADCAST' then
    return;
  end if;
  select x.oid::regclass, x.relrowsecurity, x.relreplident into rel, rls, identity_kind
  from pg_catalog.pg_class x where x.oid = c.relid;
  if rel is null then
    return;
  end if;

  pk := array(
    select a.attname from pg_catalog.pg_index i
    join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
    where i.indrelid = rel and i.indisprimary
    order by array_position(i.indkey::int2[], a.attnum)
  );
  -- old_record carries the replica identity, as the WAL does: the primary key unless FULL.
  identity_columns := case identity_kind
    when 'f' then null
    when 'n' then '{}'
    when 'i' then array(
      select a.attname from pg_catalog.pg_index i
      join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
      where i.indrelid = rel and i.indisreplident)
    else pk
  end;
  if c.type <> 'INSERT' then
    old_identity := case when identity_columns is null then c.old_record
      else (select coalesce(jsonb_object_agg(e.key, e.value), '{}') from jsonb_each(c.old_record) e
            where e.key = any(identity_columns)) end;
  end if;
  filter_row := case when c.type = 'DELETE' then old_identity else c.record end;

  -- Each distinct (column, op) is evaluated once for all its values, typed as the column.
  for grp in
    select f0 ->> 0 as col, f0 ->> 1 as op, array_agg(distinct f0 ->> 2) as vals
    from jsonb_array_elements(subscribers) sub, jsonb_array_elements(sub -> 'filters') f0
    group by 1, 2
  loop
    begin
      col_type := null;
      select format_type(a.atttypid, a.atttypmod) into col_type from pg_catalog.pg_attribute a
      where a.attrelid = rel and a.attname = grp.col and a.attnum > 0 and not a.attisdropped;
      if col_type is null or not filter_row ? grp.col then
        continue;
      end if;
      op_sql := case grp.op
        when 'eq' then '$1::%1$s = v::%1$s'
        when 'neq' then '$1::%1$s <> v::%1$s'
        when 'lt' then '$1::%1$s < v::%1$s'
        when 'lte' then '$1::%1$s <= v::%1$s'
        when 'gt' then '$1::%1$s > v::%1$s'
        when 'gte' then '$1::%1$s >= v::%1$s'
        when 'in' then '$1::%1$s = any(v::%1$s[])'
        when 'like' then '$1::%1$s like v'
        when 'ilike' then '$1::%1$s ilike v'
        when 'match' then '$1::%1$s ~ v'
        when 'imatch' then '$1::%1$s ~* v'
        when 'isdistinct' then '$1::%1$s is distinct from v::%1$s'
        -- `is` compares the JSON value itself: casting in a CASE would be constant-folded (and
        -- fail) for the arms not taken. true/false are only allowed on boolean columns.
        when 'is' then 'case v when ''true'' then $3 = ''true'' when ''false'' then $3 = ''false'' '
          'else jsonb_typeof($3) = ''null'' end'
      end;
      execute format('select jsonb_object_agg(v, coalesce(' || op_sql || ', false)) from unnest($2) v', col_type)
        into result using filter_row ->> grp.col, grp.vals, filter_row -> grp.col;
      verdicts := verdicts || jsonb_build_object(grp.col || '.' || grp.op, result);
    exception when others then
      -- An unevaluable filter hides the change: hosted Realtime's filters fail closed too.
      null;
    end;
  end loop;

  -- A subscriber sees the change when every one of its filters held (a filter never evaluated did not).
  select coalesce(jsonb_agg(jsonb_build_object(
      'id', sub ->> 'id', 'claims', claims -> (sub ->> 'claims')::int,
      'role', claims -> (sub ->> 'claims')::int ->> 'role')), '[]')
  into passing
  from jsonb_array_elements(subscribers) sub
  where not exists (
    select from jsonb_array_elements(sub -> 'filters') f
    where not coalesce(
      ((verdicts -> ((f ->> 0) || '.' || (f ->> 1)) ->> (f ->> 2))::boolean) <> (f ->> 3)::boolean, false)
  );

  for role_name in
    select distinct p ->> 'role' from jsonb_array_elements(passing) p
    where exists (select from pg_catalog.pg_roles r where r.rolname = p ->> 'role')
  loop
    hidden := array(
      select a.attname from pg_catalog.pg_attribute a
      where a.attrelid = rel and a.attnum > 0 and not a.attisdropped
        and not pg_catalog.has_column_privilege(role_name, rel, a.attnum, 'SELECT')
    );
    -- Without the right to select the primary key a role sees no change (hosted sends an error).
    if c.type <> 'DELETE' and (cardinality(pk) = 0 or pk && hidden) then
      continue;
    end if;

    if rls and c.type <> 'DELETE' then
      -- Prepared once per change, as hosted's walrus_rls_stmt: planned again only when the role changes.
      if exists (select from pg_catalog.pg_prepared_statements where name = 'realtime_local_rls') then
        deallocate realtime_local_rls;
      end if;
      execute format(
        'prepare realtime_local_rls as select exists (select 1 from %s where %s)', rel,
        (select string_agg(format('%I = %L', k, c.record ->> k), ' and ') from unnest(pk) k)
      );
      visible_ids := '{}';
      for claim_set in
        select p -> 'claims' as claims, array_agg(p ->> 'id') as ids
        from jsonb_array_elements(passing) p
        where p ->> 'role' = role_name
        group by p -> 'claims'
      loop
        begin
          perform
            set_config('role', role_name, true),
            set_config('request.jwt.claims', claim_set.claims::text, true),
            set_config('request.jwt.claim.sub', coalesce(claim_set.claims ->> 'sub', ''), true),
            set_config('request.jwt.claim.role', role_name, true);
          execute 'execute realtime_local_rls' into seen;
          perform set_config('role', null, true);
        exception when others then
          -- A policy that fails for this subscriber hides the row from them, not from the rest.
          seen := false;
        end;
        if seen then
          visible_ids := visible_ids || claim_set.ids;
        end if;
      end loop;
      deallocate realtime_local_rls;
    else
      visible_ids := array(select p ->> 'id' from jsonb_array_elements(passing) p where p ->> 'role' = role_name);
    end if;
    if cardinality(visible_ids) = 0 then
      continue;
    end if;

    subscriber_ids := visible_ids;
    columns := (
      select jsonb_agg(jsonb_build_object('name', a.attname, 'type', t.typname) order by a.attnum)
      from pg_catalog.pg_attribute a join pg_catalog.pg_type t on t.oid = a.atttypid
      where a.attrelid = rel and a.attnum > 0 and not a.attisdropped and not a.attname = any(hidden)
    );
    new_record := case when c.type <> 'DELETE' then c.record - hidden end;
    old_record := case
      when c.type = 'UPDATE' then old_identity - hidden
      -- RLS cannot be checked on a deleted row, so only its primary key goes out.
      when c.type = 'DELETE' and rls then
        (select coalesce(jsonb_object_agg(e.key, e.value), '{}') from jsonb_each(old_identity) e
         where e.key = any(pk))
      when c.type = 'DELETE' then old_identity - hidden
    end;
    primary_key := pk;
    return next;
  end loop;
end
$$;
