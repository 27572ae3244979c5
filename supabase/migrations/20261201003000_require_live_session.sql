-- The one-statement request path (docs/adr/0023-one-round-trip.md) sends BEGIN, the request's
-- settings, the verb's statement and COMMIT in one write, before any answer is back. So the
-- session check cannot be an answer the function reads first: it raises instead, which aborts the
-- transaction, fails the verb's statement and turns the COMMIT into a rollback. Nothing a
-- signed-out session's request did is kept. SQLSTATE CS401 ("Consilium session") is mapped to 401.

create function private.require_live_session(session_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not private.session_is_active(session_id) then
    raise exception 'This session has ended; sign in again' using errcode = 'CS401';
  end if;
  return true;
end;
$$;

revoke all on function private.require_live_session(uuid) from public, anon;
grant execute on function private.require_live_session(uuid) to authenticated;
