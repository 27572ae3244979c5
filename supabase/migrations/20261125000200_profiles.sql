-- The user fields that Supabase Auth does not keep: one profile per auth.users row, made on signup.

create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  full_name text,
  avatar_url text,
  preferences jsonb not null default '{}',
  is_active boolean not null default true,
  is_superuser boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint profiles_full_name_length check (char_length(full_name) <= 200),
  constraint profiles_avatar_url_length check (char_length(avatar_url) <= 2048),
  constraint profiles_preferences_is_object check (jsonb_typeof(preferences) = 'object'),
  constraint profiles_preferences_max_64_kib check (octet_length(preferences::text) <= 65536)
);

comment on table public.profiles is 'One row per auth.users row, created by the handle_new_user trigger.';

create trigger set_updated_at
  before update on public.profiles
  for each row execute function public.set_updated_at();

-- Runs as its owner because the inserting role (Supabase Auth's) may not write public.profiles.
-- Metadata is user-supplied: a name is cut to fit and an overlong URL dropped, so metadata never
-- blocks a signup.
create function public.handle_new_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  metadata_avatar_url text := new.raw_user_meta_data ->> 'avatar_url';
begin
  insert into public.profiles (id, full_name, avatar_url)
  values (
    new.id,
    left(coalesce(new.raw_user_meta_data ->> 'full_name', new.raw_user_meta_data ->> 'name'), 200),
    case when char_length(metadata_avatar_url) <= 2048 then metadata_avatar_url end
  );
  return new;
end;
$$;

-- A trigger function is never called directly; nobody needs to execute it.
revoke execute on function public.handle_new_user() from public, anon, authenticated;

create trigger on_auth_user_created
  after insert on auth.users
  for each row execute function public.handle_new_user();
