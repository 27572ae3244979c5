-- How many agent runs a user may have: at most `max_active` queued or running at once, and at most
-- `per_minute` started in a minute (AI_MAX_CONCURRENT_RUNS, AI_RUNS_PER_MINUTE; 0 turns one off).
-- Called by the ai function in the transaction that stores the user's message and the run, as the
-- user; over a limit it raises CS429 (DETAIL: the seconds to wait), so nothing of the request is
-- kept. The minute's count lives in private.request_counts (key runs:<user>), apart from the runs
-- themselves, so deleting conversations (and their runs) does not reset it.
--
-- Runs still queued or running whose row has not moved for `stale_after` were cut off (a crash, a
-- function instance that was stopped): they are marked failed (`interrupted`) first, so they
-- neither count nor stay `running` forever. A working run moves its row every few seconds.
--
-- Concurrent starts of one user are serialised by a transaction-level advisory lock, so two
-- requests cannot both see one free slot.

create function private.check_run_limits(max_active integer, per_minute integer, stale_after interval)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := (select auth.uid());
  minute timestamptz := pg_catalog.date_trunc('minute', pg_catalog.now());
  active integer;
  counted integer;
begin
  if caller is null then
    raise exception 'Only a signed-in user''s request can start a run' using errcode = 'insufficient_privilege';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('agent_runs:' || caller::text, 0));

  update public.agent_runs r
  set status = 'failed', finished_at = pg_catalog.now(),
      error = pg_catalog.jsonb_build_object('code', 'interrupted',
        'message', 'The run stopped without finishing (its function instance ended)')
  where r.user_id = caller and r.status in ('queued', 'running') and r.updated_at < pg_catalog.now() - stale_after;

  if max_active > 0 then
    select pg_catalog.count(*) into active
    from public.agent_runs r
    where r.user_id = caller and r.status in ('queued', 'running');
    if active >= max_active then
      raise exception 'At most % runs may work at once; wait for one to finish or cancel one', max_active
        using errcode = 'CS429', detail = '5';
    end if;
  end if;

  if per_minute > 0 then
    insert into private.request_counts as c (key, window_start, count)
    values ('runs:' || caller::text, minute, 1)
    on conflict (key) do update
      set count = case when c.window_start = excluded.window_start then c.count + 1 else 1 end,
          window_start = excluded.window_start
    returning c.count into counted;
    if counted > per_minute then
      raise exception 'At most % runs may start in a minute; wait before starting another', per_minute
        using errcode = 'CS429',
              detail = pg_catalog.ceil(extract(epoch from (minute + interval '1 minute' - pg_catalog.now())))::text;
    end if;
  end if;
end;
$$;

revoke all on function private.check_run_limits(integer, integer, interval) from public, anon;
grant execute on function private.check_run_limits(integer, integer, interval) to authenticated;
