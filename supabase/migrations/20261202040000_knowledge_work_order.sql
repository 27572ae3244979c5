-- Who the periodic drain serves first (docs/adr/0032-indexing-without-asking.md). The drain takes
-- at most max_users users a run; private.knowledge_work_users answered them in no order, so with
-- more users than that, which ones waited was up to the plan, and a user could wait run after run
-- behind others. Now the users whose work has waited longest come first: by when their oldest due
-- job became due (when it was to run, or when its lease ran out if that was later), then users whose passages are
-- of another model than the configured one (re-embedding, never urgent), then by id. Same rules
-- for what is work, same signature and grants.

create or replace function private.knowledge_work_users(
  current_model text,
  max_attempts integer,
  max_users integer,
  only_users uuid[] default null
)
returns table (user_id uuid)
language sql
stable
security definer
set search_path = ''
as $$
  select w.user_id from (
    select j.user_id, greatest(j.run_after, j.locked_until) as waiting_since
    from public.knowledge_jobs as j
    where (j.locked_until is null or j.locked_until < now())
      and ((j.attempts < max_attempts and j.run_after <= now())
           or (j.document_id is not null and j.attempts >= max_attempts))
    union all
    (select c.user_id, null from public.document_chunks as c where c.embedding_model < current_model)
    union all
    (select c.user_id, null from public.document_chunks as c where c.embedding_model > current_model)
  ) as w
  where only_users is null or w.user_id = any (only_users)
  group by w.user_id
  order by min(w.waiting_since) nulls last, w.user_id
  limit greatest(coalesce(max_users, 0), 0)
$$;
