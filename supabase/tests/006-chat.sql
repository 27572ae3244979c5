-- conversations and messages: private to their user; a message's conversation belongs to the
-- same user; messages go with their conversation. Alice's rows have ids a…, Bob's b….
begin;
select plan(18);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

select tests.authenticate_as('alice');

select results_eq(
  $$ insert into public.conversations (id) values ('a0000000-0000-4000-8000-000000000001') returning user_id, title $$,
  $$ values (tests.get_supabase_uid('alice'), null::text) $$,
  'a user starts a conversation, untitled until named'
);

select lives_ok(
  $$ insert into public.messages (id, conversation_id, role, content)
     values ('a0000000-0000-4000-8000-000000000011', 'a0000000-0000-4000-8000-000000000001', 'user', 'Hello') $$,
  'a user adds a message to their own conversation'
);

select lives_ok(
  $$ select private.insert_message('a0000000-0000-4000-8000-000000000001', 'assistant', 'Hi!', 'planner') $$,
  'an agent''s reply is written through private.insert_message (51-message-provenance.sql)'
);

select tests.authenticate_as('bob');

insert into public.conversations (id, title) values ('b0000000-0000-4000-8000-000000000001', 'Bob''s chat');

select results_eq(
  $$ select id from public.conversations $$,
  $$ values ('b0000000-0000-4000-8000-000000000001'::uuid) $$,
  'a user sees only their own conversations'
);

select is_empty($$ select 1 from public.messages $$, 'a user sees none of another user''s messages');

select throws_ok(
  $$ update public.messages set content = 'Hacked' where id = 'a0000000-0000-4000-8000-000000000011' $$,
  '42501', 'permission denied for table messages',
  'a user cannot change another user''s message (nor any message: they stay as written)'
);

select is_empty(
  $$ delete from public.messages where id = 'a0000000-0000-4000-8000-000000000011' returning 1 $$,
  'a user cannot delete another user''s message'
);

select is_empty(
  $$ delete from public.conversations where id = 'a0000000-0000-4000-8000-000000000001' returning 1 $$,
  'a user cannot delete another user''s conversation'
);

select throws_ok(
  $$ insert into public.messages (conversation_id, role, content)
     values ('a0000000-0000-4000-8000-000000000001', 'user', 'Intruder') $$,
  '23503', 'insert or update on table "messages" violates foreign key constraint "messages_conversation_fkey"',
  'a user cannot post into another user''s conversation'
);

select throws_ok(
  $$ insert into public.messages (user_id, conversation_id, role, content)
     values (tests.get_supabase_uid('alice'), 'a0000000-0000-4000-8000-000000000001', 'user', 'Forged') $$,
  '42501', 'new row violates row-level security policy for table "messages"',
  'a user cannot post as another user'
);

select tests.authenticate_as('alice');

select results_eq(
  $$ select content from public.messages order by created_at, id $$,
  $$ values ('Hello'), ('Hi!') $$,
  'the other user''s attempts changed nothing'
);

select throws_ok(
  $$ insert into public.messages (conversation_id, role, content)
     values ('a0000000-0000-4000-8000-000000000001', 'user', repeat('x', 32769)) $$,
  '23514', 'new row for relation "messages" violates check constraint "messages_content_max_32_kib"',
  'a message is at most 32 KiB'
);

select lives_ok(
  $$ insert into public.messages (conversation_id, role, content)
     values ('a0000000-0000-4000-8000-000000000001', 'user', repeat('é', 16384)) $$,
  'a message of exactly 32 KiB is accepted'
);

select throws_ok(
  $$ insert into public.messages (conversation_id, role, content)
     values ('a0000000-0000-4000-8000-000000000001', 'moderator', 'Hm') $$,
  '22P02', 'invalid input value for enum message_role: "moderator"',
  'a message''s role is user, assistant, system or tool'
);

select results_eq(
  $$ update public.conversations set title = 'Greetings' where id = 'a0000000-0000-4000-8000-000000000001'
     returning title, updated_at > created_at $$,
  $$ values ('Greetings', true) $$,
  'a user renames their own conversation, and updated_at moves'
);

delete from public.conversations where id = 'a0000000-0000-4000-8000-000000000001';
select is_empty($$ select 1 from public.messages $$, 'deleting a conversation deletes its messages');

select tests.authenticate_as_anon();

select throws_ok(
  $$ select * from public.messages $$,
  '42501', 'permission denied for table messages',
  'anon cannot read messages'
);

select throws_ok(
  $$ insert into public.conversations (user_id) values (tests.get_supabase_uid('bob')) $$,
  '42501', 'permission denied for table conversations',
  'anon cannot start conversations'
);

select * from finish();
rollback;
