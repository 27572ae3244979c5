-- Rate-limit counts taken a few at a time (docs/adr/0038-request-count-leases.md). Every request
-- wrote its count row (ADR 0022): on the embedded database about a third of a one-statement
-- transaction's time, and on a server a write, so a WAL flush, behind every GET. A function
-- instance now takes up to `user_lease` counts in one write and serves that many requests of the
-- user in the same minute, the first now and the rest without writing (it passes 0 and the minute
-- its lease is for, `lease_window`: only the session check runs, which stays on every request; a
-- lease for another minute than the database's counts the request after all). The limit still
-- holds across instances: a lease is granted only from what is left of the limit, so the requests
-- served in a minute never exceed it;
-- a lease an instance does not use up refuses a little early instead (at most lease − 1 per
-- instance a minute).
--
-- Returns {user_left, address_left, window}: how many more requests of the lease the instance may
-- serve without counting (0 when nothing was counted), and the minute they belong to, in minutes
-- since the epoch. The rules are begin_request's (CS401, CS429 with the seconds left as DETAIL);
-- begin_request(uuid, text, integer, integer) is now this with leases of one, so they stay one
-- definition.

-- Adds `taken` to a counter's window of this minute (a new minute starts it afresh) and answers
-- what the window held before.
create function private.take_request_counts(counter text, taken integer)
returns integer
language sql
volatile
security definer
set search_path = ''
as $$
  insert into private.request_counts as c (key, window_start, count)
  values (counter, pg_catalog.date_trunc('minute', pg_catalog.now()), taken)
  on conflict (key) do update
    set count = case when c.window_start = excluded.window_start then c.count + excluded.count
                     else excluded.count end,
        window_start = excluded.window_start
  returning c.count - taken
$$;
revoke all on function private.take_request_counts(text, integer) from public, anon, authenticated;

create function private.begin_request(
  session_id uuid,
  address text,
  per_user integer,
  per_address integer,
  user_lease integer,
  address_lease integer,
  lease_window integer
)
returns integer[]
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  uid uuid := (select auth.uid());
  minute timestamptz := pg_catalog.date_trunc('minute', pg_catalog.now());
  this_window integer := (extract(epoch from minute) / 60)::integer;
  before integer;
  user_left integer := 0;
  address_left integer := 0;
  over boolean := false;
begin
  -- A lease is at most 10; one the caller holds for another minute than the database's is spent,
  -- so the request is counted (once) after all.
  user_lease := least(greatest(coalesce(user_lease, 1), 0), 10);
  address_lease := least(greatest(coalesce(address_lease, 1), 0), 10);
  if lease_window is distinct from this_window then
    user_lease := greatest(user_lease, 1);
    address_lease := greatest(address_lease, 1);
  end if;
  if not private.session_is_active(session_id)
     and not private.schedule_grant_is_active(session_id) then
    raise exception 'This session has ended; sign in again' using errcode = 'CS401';
  end if;
  if per_user > 0 and uid is not null and user_lease > 0 then
    before := private.take_request_counts('user:' || uid, user_lease);
    over := before >= per_user;
    user_left := greatest(least(user_lease, per_user - before) - 1, 0);
  end if;
  if per_address > 0 and address is not null and address_lease > 0 then
    before := private.take_request_counts('address:' || address, address_lease);
    over := over or before >= per_address;
    address_left := greatest(least(address_lease, per_address - before) - 1, 0);
  end if;
  if over then
    raise exception 'Too many requests; wait before trying again'
      using errcode = 'CS429',
            detail = pg_catalog.ceil(extract(epoch from (minute + interval '1 minute' - pg_catalog.now())))::text;
  end if;
  return array[user_left, address_left, this_window];
end;
$$;
revoke all on function private.begin_request(uuid, text, integer, integer, integer, integer, integer) from public, anon;
grant execute on function private.begin_request(uuid, text, integer, integer, integer, integer, integer) to authenticated;

-- One count a request, as before, by way of the one definition.
create or replace function private.begin_request(
  session_id uuid,
  address text,
  per_user integer,
  per_address integer
)
returns boolean
language sql
volatile
security definer
set search_path = ''
as $$
  select private.begin_request(session_id, address, per_user, per_address, 1, 1, null) is not null
$$;
