-- Who wrote a message. A signed-in user writes only their own `user` messages, through the chat
-- function and the Data API alike; assistant, system and tool messages are written only by server
-- code, through private.insert_message, so a client cannot put words in an agent's mouth. Nobody
-- rewrites a message once written (deleting one's own stays possible, as deleting a conversation).
--
-- messages.agent_id means one thing: the agent that wrote the message (null for the user's own).
-- The agent a user message is addressed to is its `addressee`. See docs/adr/0017-message-provenance.md.

alter table public.messages
  add column addressee text,
  add constraint messages_addressee_length check (char_length(addressee) between 1 and 100);

-- Until now a user message kept its addressee in agent_id.
update public.messages set addressee = agent_id, agent_id = null where role = 'user' and agent_id is not null;

alter table public.messages
  -- An assistant or tool message names its agent; a user message has none; a system message may.
  add constraint messages_agent_id_is_the_writer check (
    case role when 'user' then agent_id is null when 'system' then true else agent_id is not null end),
  add constraint messages_addressee_only_on_user_messages check (addressee is null or role = 'user');

comment on column public.messages.agent_id is
  'The agent that wrote the message: set on assistant and tool messages, null on the user''s own.';
comment on column public.messages.addressee is
  'The agent a user message is addressed to; null for the conversation''s default agent.';

-- The user's own words only: role user, no agent, and no say over the columns the database keeps
-- (created_at orders a conversation; agent_id is the writer's). No update: a message stays as written.
drop policy "Users can create their own messages" on public.messages;
drop policy "Users can update their own messages" on public.messages;

revoke insert, update on table public.messages from authenticated;
grant insert (id, user_id, conversation_id, role, content, addressee, metadata) on table public.messages
  to authenticated;

create policy "Users can write their own user messages" on public.messages
  for insert to authenticated
  with check ((select auth.uid()) = user_id and role = 'user' and agent_id is null);

-- Server code (the ai function's agents, acting with the user's token) writes an assistant, system
-- or tool message into one of the caller's conversations, and gets the row back. Runs as its owner
-- to get past the policy above, so it checks the owner itself: another user's conversation, or
-- one that does not exist, is refused as the foreign key would refuse it (23503,
-- messages_conversation_fkey). The table's checks still apply (an assistant or tool message names
-- its agent, content is at most 32 KiB, metadata is an object). A tool message's metadata is where
-- its call goes (e.g. {run_id, tool_call_id, tool_name, arguments}); an assistant's, its run and usage.
--
-- Messages of one conversation are written one at a time (the conversation row is locked, as the
-- touch_conversation trigger would lock it anyway), and each gets a created_at past the last
-- message's, so a run's tool calls, results and answer list in the order they were written even
-- within one transaction or one millisecond. In `private`, which the Data API does not expose.

create function private.insert_message(
  conversation_id uuid,
  role public.message_role,
  content text,
  agent_id text,
  metadata jsonb default '{}'
)
returns public.messages
language plpgsql
security definer
set search_path = ''
as $$
declare
  caller uuid := (select auth.uid());
  last_written_at timestamptz;
  written_at timestamptz;
  written public.messages;
begin
  if caller is null then
    raise exception 'Only a signed-in user''s request can write a message'
      using errcode = 'insufficient_privilege';
  end if;
  if insert_message.role = 'user' then
    raise exception 'A user message is inserted as the user; this function writes assistant, system and tool messages'
      using errcode = 'invalid_parameter_value';
  end if;

  perform from public.conversations c
  where c.user_id = caller and c.id = insert_message.conversation_id
  for no key update;
  if not found then
    raise exception 'The conversation does not exist or is not the caller''s'
      using errcode = 'foreign_key_violation', constraint = 'messages_conversation_fkey';
  end if;

  select max(m.created_at) into last_written_at
  from public.messages m
  where m.user_id = caller and m.conversation_id = insert_message.conversation_id;
  written_at := greatest(pg_catalog.clock_timestamp(), last_written_at + interval '1 microsecond');

  insert into public.messages (user_id, conversation_id, role, content, agent_id, metadata, created_at, updated_at)
  values (caller, insert_message.conversation_id, insert_message.role, insert_message.content,
          insert_message.agent_id, coalesce(insert_message.metadata, '{}'), written_at, written_at)
  returning * into written;
  return written;
end;
$$;

revoke all on function private.insert_message(uuid, public.message_role, text, text, jsonb) from public, anon;
grant execute on function private.insert_message(uuid, public.message_role, text, text, jsonb) to authenticated;
