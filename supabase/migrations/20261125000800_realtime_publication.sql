-- The tables clients follow with `postgres_changes`. Realtime checks each change against the
-- subscriber's RLS, so every user hears only about their own rows.
alter publication supabase_realtime
  add table public.messages, public.conversations, public.notes, public.tasks, public.goals;
