-- Private Realtime channels: a conversation's streamed agent output goes out on the private
-- broadcast channel `conversation:{id}`. Realtime authorizes a private channel by these policies
-- on realtime.messages, checked as the client (its role and JWT claims) with realtime.topic() set
-- to the channel's name: reading decides who may join and receive broadcasts and presence,
-- inserting who may broadcast and track presence. Only the conversation's owner may do either.

create policy "Conversation owners can receive on their conversation channel" on realtime.messages
  for select to authenticated
  using (
    realtime.messages.extension in ('broadcast', 'presence')
    and exists (
      select 1 from public.conversations c
      where c.user_id = (select auth.uid())
        and 'conversation:' || c.id::text = (select realtime.topic())
    )
  );

create policy "Conversation owners can send on their conversation channel" on realtime.messages
  for insert to authenticated
  with check (
    realtime.messages.extension in ('broadcast', 'presence')
    and exists (
      select 1 from public.conversations c
      where c.user_id = (select auth.uid())
        and 'conversation:' || c.id::text = (select realtime.topic())
    )
  );
