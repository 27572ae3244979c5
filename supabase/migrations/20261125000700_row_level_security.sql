-- Who may see and change what: every table is private to its user.
--
-- RLS on every table; one policy per command, `to authenticated`, comparing `(select auth.uid())`
-- (evaluated once per statement, not per row) with the owning column. The platform's default grants
-- give anon and authenticated every privilege on new tables; they are narrowed here:
--   - anon (a visitor without a session) gets nothing, so it is refused rather than shown 0 rows;
--   - authenticated keeps select, insert, update and delete, and loses TRUNCATE (which ignores
--     RLS), REFERENCES, TRIGGER and MAINTAIN.
-- See docs/adr/0003-rls-policies.md.

-- profiles: made by handle_new_user and removed with the auth user, so users only read and update
-- their own; the columns they may change are granted one by one (not is_active, not is_superuser).
alter table public.profiles enable row level security;
revoke all on table public.profiles from anon, authenticated;
grant select, update (full_name, avatar_url, preferences) on table public.profiles to authenticated;

create policy "Users can read their own profile" on public.profiles
  for select to authenticated
  using ((select auth.uid()) = id);

create policy "Users can update their own profile" on public.profiles
  for update to authenticated
  using ((select auth.uid()) = id)
  with check ((select auth.uid()) = id);

-- notes
alter table public.notes enable row level security;
revoke all on table public.notes from anon, authenticated;
grant select, insert, update, delete on table public.notes to authenticated;

create policy "Users can read their own notes" on public.notes
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can create their own notes" on public.notes
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "Users can update their own notes" on public.notes
  for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "Users can delete their own notes" on public.notes
  for delete to authenticated
  using ((select auth.uid()) = user_id);

-- tasks
alter table public.tasks enable row level security;
revoke all on table public.tasks from anon, authenticated;
grant select, insert, update, delete on table public.tasks to authenticated;

create policy "Users can read their own tasks" on public.tasks
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can create their own tasks" on public.tasks
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "Users can update their own tasks" on public.tasks
  for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "Users can delete their own tasks" on public.tasks
  for delete to authenticated
  using ((select auth.uid()) = user_id);

-- goals
alter table public.goals enable row level security;
revoke all on table public.goals from anon, authenticated;
grant select, insert, update, delete on table public.goals to authenticated;

create policy "Users can read their own goals" on public.goals
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can create their own goals" on public.goals
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "Users can update their own goals" on public.goals
  for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "Users can delete their own goals" on public.goals
  for delete to authenticated
  using ((select auth.uid()) = user_id);

-- reflections
alter table public.reflections enable row level security;
revoke all on table public.reflections from anon, authenticated;
grant select, insert, update, delete on table public.reflections to authenticated;

create policy "Users can read their own reflections" on public.reflections
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can create their own reflections" on public.reflections
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "Users can update their own reflections" on public.reflections
  for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "Users can delete their own reflections" on public.reflections
  for delete to authenticated
  using ((select auth.uid()) = user_id);

-- conversations
alter table public.conversations enable row level security;
revoke all on table public.conversations from anon, authenticated;
grant select, insert, update, delete on table public.conversations to authenticated;

create policy "Users can read their own conversations" on public.conversations
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can create their own conversations" on public.conversations
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "Users can update their own conversations" on public.conversations
  for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "Users can delete their own conversations" on public.conversations
  for delete to authenticated
  using ((select auth.uid()) = user_id);

-- messages
alter table public.messages enable row level security;
revoke all on table public.messages from anon, authenticated;
grant select, insert, update, delete on table public.messages to authenticated;

create policy "Users can read their own messages" on public.messages
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can create their own messages" on public.messages
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "Users can update their own messages" on public.messages
  for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "Users can delete their own messages" on public.messages
  for delete to authenticated
  using ((select auth.uid()) = user_id);

-- documents
alter table public.documents enable row level security;
revoke all on table public.documents from anon, authenticated;
grant select, insert, update, delete on table public.documents to authenticated;

create policy "Users can read their own documents" on public.documents
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can create their own documents" on public.documents
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "Users can update their own documents" on public.documents
  for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "Users can delete their own documents" on public.documents
  for delete to authenticated
  using ((select auth.uid()) = user_id);

-- document_chunks
alter table public.document_chunks enable row level security;
revoke all on table public.document_chunks from anon, authenticated;
grant select, insert, update, delete on table public.document_chunks to authenticated;

create policy "Users can read their own document chunks" on public.document_chunks
  for select to authenticated
  using ((select auth.uid()) = user_id);

create policy "Users can create their own document chunks" on public.document_chunks
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

create policy "Users can update their own document chunks" on public.document_chunks
  for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "Users can delete their own document chunks" on public.document_chunks
  for delete to authenticated
  using ((select auth.uid()) = user_id);
