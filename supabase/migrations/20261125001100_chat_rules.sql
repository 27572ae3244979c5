-- The rules of chat that hold whoever writes a message (the chat function, the ai function's
-- agents, or a client straight through the Data API): a new message counts as activity in its
-- conversation (updated_at moves, so lists sorted by activity show it first), and an untitled
-- conversation is named after its first user message.
--
-- The title is the first non-blank line of that message, whitespace collapsed, cut to 60
-- characters with an ellipsis. Only a user message names a conversation: a system prompt or a
-- tool's output makes a poor title.

create function public.touch_conversation()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
declare
  first_line text;
begin
  if new.role = 'user' then
    first_line := pg_catalog.regexp_replace(
      pg_catalog.btrim(pg_catalog.substring(new.content, '[^[:space:]][^\n\r]*')),
      '[[:space:]]+', ' ', 'g'
    );
    if pg_catalog.char_length(first_line) > 60 then
      first_line := pg_catalog.rtrim(pg_catalog.left(first_line, 59)) || '…';
    end if;
  end if;
  -- Runs as the writer, so RLS applies: only the owner's conversation is touched (the same-user
  -- foreign key has already made sure the message is in one).
  update public.conversations c
  set title = coalesce(c.title, first_line)
  where c.user_id = new.user_id and c.id = new.conversation_id;
  return null;
end;
$$;

create trigger touch_conversation
  after insert on public.messages
  for each row execute function public.touch_conversation();

revoke execute on function public.touch_conversation() from public, anon, authenticated;
