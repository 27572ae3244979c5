-- Chat: a new message is activity in its conversation, and an untitled conversation is named after
-- its first user message (20261125001100_chat_rules.sql).
begin;
select plan(10);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
select tests.authenticate_as('alice');

insert into public.conversations (id) values ('a0000000-0000-4000-8000-000000000001');

select results_eq(
  $$ select title, updated_at = created_at from public.conversations where id = 'a0000000-0000-4000-8000-000000000001' $$,
  $$ values (null::text, true) $$,
  'a new conversation is untitled'
);

select id from private.insert_message('a0000000-0000-4000-8000-000000000001', 'system', 'You are a planner.', 'planner');

select results_eq(
  $$ select title, updated_at > created_at from public.conversations where id = 'a0000000-0000-4000-8000-000000000001' $$,
  $$ values (null::text, true) $$,
  'any message moves the conversation''s updated_at, but only a user message names it'
);

insert into public.messages (conversation_id, role, content)
values ('a0000000-0000-4000-8000-000000000001', 'user', E'\n  \n   Plan   my\tweek  \nwith details below');

select is(
  (select title from public.conversations where id = 'a0000000-0000-4000-8000-000000000001'),
  'Plan my week',
  'the first user message names it: its first non-blank line, whitespace collapsed'
);

insert into public.messages (conversation_id, role, content)
values ('a0000000-0000-4000-8000-000000000001', 'user', 'Something else entirely');

select is(
  (select title from public.conversations where id = 'a0000000-0000-4000-8000-000000000001'),
  'Plan my week',
  'later messages keep the title'
);

insert into public.conversations (id) values ('a0000000-0000-4000-8000-000000000002');
insert into public.messages (conversation_id, role, content)
values ('a0000000-0000-4000-8000-000000000002', 'user', repeat('word ', 30));

select is(
  (select title from public.conversations where id = 'a0000000-0000-4000-8000-000000000002'),
  rtrim(left(repeat('word ', 30), 59)) || '…',
  'a long first line is cut to 60 characters with an ellipsis'
);

select is(
  (select char_length(title) from public.conversations where id = 'a0000000-0000-4000-8000-000000000002'),
  60,
  'the cut title is 60 characters long'
);

insert into public.conversations (id, title) values ('a0000000-0000-4000-8000-000000000003', 'Named');
insert into public.messages (conversation_id, role, content)
values ('a0000000-0000-4000-8000-000000000003', 'user', 'Hello');

select is(
  (select title from public.conversations where id = 'a0000000-0000-4000-8000-000000000003'),
  'Named',
  'a conversation named at creation keeps its name'
);

insert into public.conversations (id) values ('a0000000-0000-4000-8000-000000000004');
insert into public.messages (conversation_id, role, content)
values ('a0000000-0000-4000-8000-000000000004', 'user', E' \n\t ');

select is(
  (select title from public.conversations where id = 'a0000000-0000-4000-8000-000000000004'),
  null,
  'a blank first message leaves the conversation untitled'
);

select tests.authenticate_as('bob');
insert into public.conversations (id) values ('b0000000-0000-4000-8000-000000000001');
insert into public.messages (conversation_id, role, content)
values ('b0000000-0000-4000-8000-000000000001', 'user', 'Bob''s question');

select results_eq(
  $$ select title from public.conversations $$,
  $$ values ('Bob''s question') $$,
  'a user''s message names only their own conversation'
);

select tests.authenticate_as('alice');

select results_eq(
  $$ select id, title from public.conversations order by id $$,
  $$ values ('a0000000-0000-4000-8000-000000000001'::uuid, 'Plan my week'),
            ('a0000000-0000-4000-8000-000000000002'::uuid, rtrim(left(repeat('word ', 30), 59)) || '…'),
            ('a0000000-0000-4000-8000-000000000003'::uuid, 'Named'),
            ('a0000000-0000-4000-8000-000000000004'::uuid, null) $$,
  'another user''s messages changed nothing of alice''s'
);

select * from finish();
rollback;
