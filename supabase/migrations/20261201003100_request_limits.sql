-- Rate limits of the functions (docs/adr/0022-rate-limits.md): requests a user, and a client
-- address, may make a minute, counted here so the limits hold across function instances. Each
-- request's transaction counts itself in the statement that sets its RLS settings, so the count
-- costs no round trip; over a limit, the statement raises CS429 (its DETAIL the seconds until the
-- minute ends), the transaction aborts and nothing the request did is kept.

create table private.request_counts (
  key text primary key,
  window_start timestamptz not null,
  count integer not null
);

comment on table private.request_counts is
  'Requests per user (user:<id>) and per client address (address:<ip>) in the current minute.';

-- Only the function below touches it; RLS with no policy refuses everyone else.
alter table private.request_counts enable row level security;
revoke all on table private.request_counts from public, anon, authenticated;

create function private.count_request(address text, per_user integer, per_address integer)
returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  minute timestamptz := pg_catalog.date_trunc('minute', pg_catalog.now());
  counted integer;
  over boolean := false;
begin
  if per_user > 0 and (select auth.uid()) is not null then
    insert into private.request_counts as c (key, window_start, count)
    values ('user:' || (select auth.uid()), minute, 1)
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

revoke all on function private.count_request(text, integer, integer) from public, anon;
grant execute on function private.count_request(text, integer, integer) to authenticated;

-- Old minutes are of no use; a key's row is reused each minute, so this only trims users gone quiet.
create index request_counts_window_start_idx on private.request_counts (window_start);
