-- Private Realtime channels: only a conversation's owner may join (read) and broadcast or track
-- presence (insert) on `conversation:{id}`, with realtime.topic() naming the channel as Realtime
-- sets it when it checks a client.
begin;
select plan(8);

select tests.create_supabase_user('owner');
select tests.create_supabase_user('stranger');

insert into public.conversations (id, user_id, title)
values ('c0000000-0000-4000-8000-000000000001', tests.get_supabase_uid('owner'), 'Planning');

-- What Realtime's join probe reads: a broadcast row on the channel's topic.
insert into realtime.messages (topic, extension, event, payload, private)
values ('conversation:c0000000-0000-4000-8000-000000000001', 'broadcast', 'probe', '{}', true);

select tests.authenticate_as('owner');
select set_config('realtime.topic', 'conversation:c0000000-0000-4000-8000-000000000001', true);

-- Only the channel's rows: realtime.messages keeps what earlier broadcasts sent.
select results_eq(
  $$ select count(*)::int from realtime.messages where topic = realtime.topic() $$, $$ values (1) $$,
  'the owner may join their conversation''s channel'
);
select lives_ok(
  $$ insert into realtime.messages (topic, extension, event, payload, private)
     values (realtime.topic(), 'broadcast', 'token', '{"delta": "Hi"}', true) $$,
  'the owner may broadcast on it'
);
select lives_ok(
  $$ insert into realtime.messages (topic, extension, event, payload, private)
     values (realtime.topic(), 'presence', 'track', '{}', true) $$,
  'the owner may track presence on it'
);
select throws_ok(
  $$ insert into realtime.messages (topic, extension, event, payload, private)
     values (realtime.topic(), 'postgres_changes', 'x', '{}', true) $$,
  '42501', null,
  'no extension but broadcast and presence is authorized'
);

select set_config('realtime.topic', 'conversation:c0000000-0000-4000-8000-00000000ffff', true);
select is_empty(
  $$ select 1 from realtime.messages $$,
  'a channel of a conversation that does not exist is closed even to a signed-in user'
);

select tests.authenticate_as('stranger');
select set_config('realtime.topic', 'conversation:c0000000-0000-4000-8000-000000000001', true);

select is_empty($$ select 1 from realtime.messages $$, 'another user may not join the channel');
select throws_ok(
  $$ insert into realtime.messages (topic, extension, event, payload, private)
     values (realtime.topic(), 'broadcast', 'token', '{}', true) $$,
  '42501', null,
  'another user may not broadcast on it'
);

select tests.authenticate_as_anon();
select set_config('realtime.topic', 'conversation:c0000000-0000-4000-8000-000000000001', true);
select is_empty($$ select 1 from realtime.messages $$, 'anon may not join the channel');

select * from finish();
rollback;
