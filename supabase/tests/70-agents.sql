-- agents: a user's own agents and their settings of the built-in crew, private to them. Alice's
-- rows have ids a…, Bob's b….
begin;
select plan(20);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

select policies_are('public', 'agents', array[
  'Users can read their own agents', 'Users can create their own agents',
  'Users can update their own agents', 'Users can delete their own agents'
]);

select tests.authenticate_as('alice');

select results_eq(
  $$ insert into public.agents (id, name, role, goal, backstory, tools, model, temperature)
     values ('a0000000-0000-4000-8000-000000000001', 'Budget coach', 'Personal finance coach',
             'Keep the monthly budget on track', 'Frugal, kind, precise.', '{list_tasks,create_task}',
             'anthropic:claude-haiku-4-5', 0.3)
     returning user_id, builtin_id, enabled $$,
  $$ values (tests.get_supabase_uid('alice'), null::text, true) $$,
  'a user defines their own agent, enabled by default'
);

select lives_ok(
  $$ insert into public.agents (id, builtin_id, model, temperature, instructions)
     values ('a0000000-0000-4000-8000-000000000002', 'planner', 'openai:gpt-4.1-mini', 0.2,
             'Plan my mornings for deep work.') $$,
  'a user sets a built-in agent''s model, temperature and extra instructions'
);

select throws_ok(
  $$ insert into public.agents (builtin_id, enabled) values ('planner', false) $$,
  '23505', 'duplicate key value violates unique constraint "agents_user_id_builtin_id_key"',
  'a built-in agent has one row of settings per user'
);

select throws_ok(
  $$ insert into public.agents (builtin_id, name) values ('coordinator', 'Boss') $$,
  '23514', 'new row for relation "agents" violates check constraint "agents_builtin_keeps_its_identity"',
  'a built-in agent''s name, role, goal, backstory and tools come from the code'
);

select throws_ok(
  $$ insert into public.agents (name, role) values ('Half an agent', 'Helper') $$,
  '23514', 'new row for relation "agents" violates check constraint "agents_own_agent_is_described"',
  'a user''s own agent has a name, a role and a goal'
);

select throws_ok(
  $$ insert into public.agents (name, role, goal) values ('budget COACH', 'Another', 'Another') $$,
  '23505', 'duplicate key value violates unique constraint "agents_user_id_name_key"',
  'two of a user''s agents cannot share a name, whatever its case'
);

select throws_ok(
  $$ insert into public.agents (name, role, goal, temperature) values ('Hot', 'r', 'g', 2.5) $$,
  '23514', 'new row for relation "agents" violates check constraint "agents_temperature_range"',
  'the temperature is between 0 and 2'
);

select throws_ok(
  $$ insert into public.agents (name, role, goal, model) values ('Unnamed model', 'r', 'g', 'gpt-4.1') $$,
  '23514', 'new row for relation "agents" violates check constraint "agents_model_format"',
  'a model is named provider:model'
);

select throws_ok(
  $$ insert into public.agents (name, role, goal, tools) values ('Odd tools', 'r', 'g', '{list_tasks,"drop table"}') $$,
  '23514', 'new row for relation "agents" violates check constraint "agents_tools_are_names"',
  'tools are named like identifiers'
);

select throws_ok(
  $$ insert into public.agents (builtin_id) values ('Planner!') $$,
  '23514', 'new row for relation "agents" violates check constraint "agents_builtin_id_format"',
  'a built-in agent''s id is a lower-case identifier'
);

select tests.authenticate_as('bob');

select lives_ok(
  $$ insert into public.agents (id, builtin_id, enabled) values ('b0000000-0000-4000-8000-000000000002', 'planner', false) $$,
  'another user has their own settings of the same built-in agent'
);

select lives_ok(
  $$ insert into public.agents (id, name, role, goal) values ('b0000000-0000-4000-8000-000000000001', 'Budget coach', 'r', 'g') $$,
  'another user may use the same agent name'
);

select results_eq(
  $$ select id from public.agents order by id $$,
  $$ values ('b0000000-0000-4000-8000-000000000001'::uuid), ('b0000000-0000-4000-8000-000000000002'::uuid) $$,
  'a user sees only their own agents'
);

select is_empty(
  $$ update public.agents set model = 'xai:grok-4' where id = 'a0000000-0000-4000-8000-000000000001' returning 1 $$,
  'a user cannot change another user''s agent'
);

select is_empty(
  $$ delete from public.agents where id = 'a0000000-0000-4000-8000-000000000002' returning 1 $$,
  'a user cannot delete another user''s settings'
);

select throws_ok(
  $$ insert into public.agents (user_id, name, role, goal) values (tests.get_supabase_uid('alice'), 'Forged', 'r', 'g') $$,
  '42501', 'new row violates row-level security policy for table "agents"',
  'a user cannot create an agent for another user'
);

select tests.authenticate_as('alice');

select results_eq(
  $$ update public.agents set enabled = false where id = 'a0000000-0000-4000-8000-000000000002'
     returning enabled, model, updated_at > created_at $$,
  $$ values (false, 'openai:gpt-4.1-mini', true) $$,
  'a user turns a built-in agent off for themselves, keeping its settings, and updated_at moves'
);

select results_eq(
  $$ select count(*)::int from public.agents $$,
  $$ values (2) $$,
  'the other user''s attempts changed nothing'
);

select tests.authenticate_as_anon();

select throws_ok(
  $$ select 1 from public.agents $$,
  '42501', 'permission denied for table agents',
  'a visitor without a session is refused'
);

select * from finish();
rollback;
