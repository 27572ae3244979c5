-- Demo data for a fresh local database: one user, demo@example.com with password "password123",
-- with a few notes, tasks, goals, a reflection and a conversation. Runs as postgres after the
-- migrations; hashes the password with pgcrypto's bcrypt, as Supabase Auth stores it.

insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, last_sign_in_at,
  raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
  -- Supabase Auth reads these as strings, so they are empty rather than null.
  confirmation_token, recovery_token, email_change_token_new, email_change
) values (
  '00000000-0000-0000-0000-000000000000', '5eed0000-0000-4000-8000-000000000001',
  'authenticated', 'authenticated', 'demo@example.com',
  extensions.crypt('password123', extensions.gen_salt('bf', 10)), now(), null,
  '{"provider": "email", "providers": ["email"]}', '{"full_name": "Demo User"}', now(), now(),
  '', '', '', ''
);

insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
values (
  '5eed0000-0000-4000-8000-000000000001', '5eed0000-0000-4000-8000-000000000001',
  '{"sub": "5eed0000-0000-4000-8000-000000000001", "email": "demo@example.com", "email_verified": true}',
  'email', now(), now()
);

-- The signup trigger made the profile; give it some preferences.
update public.profiles
set preferences = '{"theme": "system", "week_starts_on": "monday", "default_agent": "planner"}'
where id = '5eed0000-0000-4000-8000-000000000001';

insert into public.notes (id, user_id, parent_id, title, is_pinned, content) values
(
  '5eed0000-0000-4000-8000-00000000a001', '5eed0000-0000-4000-8000-000000000001', null,
  'Welcome to Consilium', true,
  '[
    {"id": "welcome-1", "type": "heading", "props": {"textColor": "default", "backgroundColor": "default", "textAlignment": "left", "level": 1, "isToggleable": false},
     "content": [{"type": "text", "text": "Welcome", "styles": {}}], "children": []},
    {"id": "welcome-2", "type": "paragraph", "props": {"textColor": "default", "backgroundColor": "default", "textAlignment": "left"},
     "content": [{"type": "text", "text": "Notes, tasks and goals in one place. Checklist items become tasks.", "styles": {}}], "children": []},
    {"id": "welcome-3", "type": "checkListItem", "props": {"textColor": "default", "backgroundColor": "default", "textAlignment": "left", "checked": false},
     "content": [{"type": "text", "text": "Plan the week", "styles": {}}], "children": []}
  ]'
),
(
  '5eed0000-0000-4000-8000-00000000a002', '5eed0000-0000-4000-8000-000000000001',
  '5eed0000-0000-4000-8000-00000000a001', 'Weekly review template', false,
  '[
    {"id": "review-1", "type": "bulletListItem", "props": {"textColor": "default", "backgroundColor": "default", "textAlignment": "left"},
     "content": [{"type": "text", "text": "What went well?", "styles": {}}], "children": []},
    {"id": "review-2", "type": "bulletListItem", "props": {"textColor": "default", "backgroundColor": "default", "textAlignment": "left"},
     "content": [{"type": "text", "text": "What will I change next week?", "styles": {}}], "children": []}
  ]'
);

insert into public.tasks (user_id, note_id, title, status, priority, due_date, due_time, source, source_reference, completed_at) values
(
  '5eed0000-0000-4000-8000-000000000001', '5eed0000-0000-4000-8000-00000000a001', 'Plan the week',
  'todo', 'high', current_date + 1, '09:00', 'note',
  '{"note_id": "5eed0000-0000-4000-8000-00000000a001", "block_id": "welcome-3"}', null
),
('5eed0000-0000-4000-8000-000000000001', null, 'Book a dentist appointment', 'todo', 'medium', current_date + 3, null, 'manual', null, null),
('5eed0000-0000-4000-8000-000000000001', null, 'Buy running shoes', 'done', 'low', null, null, 'manual', null, now()),
('5eed0000-0000-4000-8000-000000000001', null, 'Draft the quarterly budget', 'in_progress', 'urgent', current_date, '17:30', 'manual', null, null);

insert into public.goals (id, user_id, parent_goal_id, title, timeframe, status, progress, priority, due_date) values
(
  '5eed0000-0000-4000-8000-00000000c001', '5eed0000-0000-4000-8000-000000000001', null,
  'Run a half marathon', 'yearly', 'in_progress', 25, 'high', (date_trunc('year', current_date) + interval '1 year - 1 day')::date
),
(
  '5eed0000-0000-4000-8000-00000000c002', '5eed0000-0000-4000-8000-000000000001',
  '5eed0000-0000-4000-8000-00000000c001', 'Run 10 km without stopping', 'quarterly', 'not_started', 0, 'medium', null
);

insert into public.reflections (user_id, reflection_type, title, content, mood) values
('5eed0000-0000-4000-8000-000000000001', 'daily', 'A good start', 'Set up Consilium and wrote down this year''s goals.', 4);

insert into public.conversations (id, user_id, title) values
('5eed0000-0000-4000-8000-00000000d001', '5eed0000-0000-4000-8000-000000000001', 'Planning my week');

insert into public.messages (user_id, conversation_id, role, content, agent_id, created_at) values
('5eed0000-0000-4000-8000-000000000001', '5eed0000-0000-4000-8000-00000000d001', 'user', 'What should I focus on this week?', null, now() - interval '1 minute'),
('5eed0000-0000-4000-8000-000000000001', '5eed0000-0000-4000-8000-00000000d001', 'assistant', 'Start with the quarterly budget: it is due today and marked urgent.', 'planner', now());
