-- A row's updated_at is its ETag, so every update must give it a new, later value. clock_timestamp()
-- alone does not: the embedded database's clock moves in milliseconds, so two updates of one row
-- within a millisecond shared a version and a stale If-Match could pass; and a clock set back
-- (or a row written with a later updated_at) would hand out an earlier version than the last.
-- An update now takes the clock, or one microsecond past the row's last version if that is later.
-- Every table with an updated_at keeps it with this function (supabase/tests/45-etag-versions.sql).

create or replace function public.set_updated_at()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' then
    new.updated_at := greatest(pg_catalog.clock_timestamp(), old.updated_at + interval '1 microsecond');
  else
    new.updated_at := pg_catalog.clock_timestamp();
  end if;
  return new;
end;
$$;
