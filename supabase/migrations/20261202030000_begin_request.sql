-- The checks every request's transaction makes, in one function (docs/adr/0037-request-path-waits.md).
-- withUser's settings statement called private.require_live_session (a security-definer function
-- calling another, session_is_active) and private.count_request: three calls that each switch the
-- user and the search path. private.begin_request makes one call from the statement, and that one
-- calls session_is_active, so the session rule keeps its one definition. The rules are the same:
--   * the token's session must still live, unless the token has no session id (then its
--     signature is the check), or it is a live schedule grant of the caller's own (ADR 0031);
--     otherwise CS401, which aborts the transaction;
--   * the request counts against the caller's and the address's requests this minute (ADR 0022);
--     over either limit, CS429, with DETAIL the seconds left in the minute.
-- require_live_session and count_request stay, each now a call of this one, so there is one
-- definition of each rule.

create function private.begin_request(
  session_id uuid,
  address text,
  per_user integer,
  per_address integer
)
returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  uid uuid := (select auth.uid());
  minute timestamptz := pg_catalog.date_trunc('minute', pg_catalog.now());
  counted integer;
  over boolean := false;
begin
  if not private.session_is_active(session_id)
     and not private.schedule_grant_is_active(session_id) then
    raise exception 'This session has ended; sign in again' using errcode = 'CS401';
  end if;
  if per_user > 0 and uid is not null then
    insert into private.request_counts as c (key, window_start, count)
    values ('user:' || uid, minute, 1)
    on conflict (key) do update
      set count = case when c.window_start = excluded.window_start then c.count + 1 else 1 end,
          window_start = excluded.window_start
    returning c.count into counted;
    over := counted > per_user;
  end if;
  if per_address > 0 and address is not null then
    insert into private.request_counts as c (key, window_start, count)
    values ('address:' || address, minute, 1)
    on conflict (key) do update
      set count = case when c.window_start = excluded.window_start then c.count + 1 else 1 end,
          window_start = excluded.window_start
    returning c.count into counted;
    over := over or counted > per_address;
  end if;
  if over then
    raise exception 'Too many requests; wait before trying again'
      using errcode = 'CS429',
            detail = pg_catalog.ceil(extract(epoch from (minute + interval '1 minute' - pg_catalog.now())))::text;
  end if;
  return true;
end;
$$;
revoke all on function private.begin_request(uuid, text, integer, integer) from public, anon;
grant execute on function private.begin_request(uuid, text, integer, integer) to authenticated;

-- The two checks on their own, as before, by way of the one definition.
create or replace function private.require_live_session(session_id uuid)
returns boolean
language sql
volatile
security definer
set search_path = ''
as $$
  select private.begin_request(session_id, null, 0, 0)
$$;

create or replace function private.count_request(address text, per_user integer, per_address integer)
returns boolean
language sql
volatile
security definer
set search_path = ''
as $$
  select private.begin_request(null, address, per_user, per_address)
$$;
