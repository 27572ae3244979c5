-- Extensions, the enumerated types of every table, and the shared `updated_at` trigger function.
-- Hosted Supabase keeps extensions in the `extensions` schema; `if not exists` makes these no-ops
-- where the platform already installed them.

create extension if not exists vector with schema extensions;
-- Hosted projects have pgcrypto already; the seed hashes its demo password with it.
create extension if not exists pgcrypto with schema extensions;

create type public.task_status as enum ('todo', 'in_progress', 'done', 'cancelled');
-- Declared from least to most urgent, so `order by priority desc` puts urgent first.
create type public.task_priority as enum ('low', 'medium', 'high', 'urgent');
-- Where a task came from: typed by the user, mirrored from a note's checklist, or made by an agent.
create type public.task_source as enum ('manual', 'note', 'agent');

-- Declared from longest to shortest, so a parent goal's timeframe sorts before (or equal to) its
-- child's: `parent.timeframe <= child.timeframe`.
create type public.goal_timeframe as enum ('life', 'yearly', 'quarterly', 'monthly', 'weekly', 'daily');
create type public.goal_status as enum ('not_started', 'in_progress', 'completed', 'abandoned');
create type public.goal_priority as enum ('low', 'medium', 'high', 'urgent');

create type public.reflection_type as enum ('daily', 'weekly', 'monthly', 'quarterly', 'yearly', 'freeform');

create type public.message_role as enum ('user', 'assistant', 'system', 'tool');

create type public.document_status as enum ('pending', 'processing', 'ready', 'failed');

-- One trigger function keeps `updated_at` for every table. clock_timestamp() rather than now(): two
-- updates in one transaction still get distinct values, which clients use as the row's ETag.
create function public.set_updated_at()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  new.updated_at := clock_timestamp();
  return new;
end;
$$;

revoke execute on function public.set_updated_at() from public, anon, authenticated;
