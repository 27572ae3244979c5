-- Functions verify access tokens without calling Auth, so a token would outlive a sign-out by up
-- to its hour. They ask this, in the same statement that sets the request's RLS settings, whether
-- the token's session still exists: a signed-out session's tokens stop working at once.
-- In a schema the Data API does not expose; it answers only for the caller's own sessions.

create schema if not exists private;
revoke all on schema private from public;
grant usage on schema private to authenticated;

create function private.session_is_active(session_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select session_id is null or exists (
    select 1 from auth.sessions s
    where s.id = session_id
      and s.user_id = (select auth.uid())
      and (s.not_after is null or s.not_after > now())
  )
$$;

revoke all on function private.session_is_active(uuid) from public, anon;
grant execute on function private.session_is_active(uuid) to authenticated;
