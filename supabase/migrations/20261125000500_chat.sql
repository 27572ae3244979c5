-- Chat: conversations and their messages (clients follow them over Realtime).

create table public.conversations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  -- Null until it is named (by default from the first message).
  title text,
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint conversations_user_id_id_key unique (user_id, id),
  constraint conversations_title_length check (char_length(title) <= 500),
  constraint conversations_metadata_is_object check (jsonb_typeof(metadata) = 'object')
);

create index conversations_user_id_updated_at_idx on public.conversations (user_id, updated_at desc, id desc);

create trigger set_updated_at
  before update on public.conversations
  for each row execute function public.set_updated_at();

create table public.messages (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  conversation_id uuid not null,
  role public.message_role not null,
  content text not null,
  -- Which agent wrote an assistant or tool message; null for the user's own.
  agent_id text,
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- A message belongs to a conversation of the same user, and goes with it.
  constraint messages_conversation_fkey foreign key (user_id, conversation_id)
    references public.conversations (user_id, id) on delete cascade,
  constraint messages_content_max_32_kib check (octet_length(content) <= 32768),
  constraint messages_agent_id_length check (char_length(agent_id) between 1 and 100),
  constraint messages_metadata_is_object check (jsonb_typeof(metadata) = 'object')
);

-- A conversation's messages oldest to newest (keyset on id); covers messages_conversation_fkey.
create index messages_user_id_conversation_id_created_at_idx
  on public.messages (user_id, conversation_id, created_at, id);

create trigger set_updated_at
  before update on public.messages
  for each row execute function public.set_updated_at();
