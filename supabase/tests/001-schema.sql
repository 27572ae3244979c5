-- The rules every table in public keeps: RLS on, policies only for signed-in users, nothing for
-- anon, no privilege that bypasses RLS, an index behind every foreign key, fixed search paths.
begin;
select plan(20);

select tests.rls_enabled('public');

select is_empty(
  $$ select c.relname || ': ' || p.polname
     from pg_policy p join pg_class c on c.oid = p.polrelid
     where c.relnamespace = 'public'::regnamespace
       and p.polroles <> array['authenticated'::regrole::oid] $$,
  'every policy in public applies to the authenticated role only'
);

select is_empty(
  $$ select table_name || ': ' || privilege_type
     from information_schema.role_table_grants
     where grantee = 'anon' and table_schema = 'public' $$,
  'anon has no privilege on any table in public'
);

select is_empty(
  $$ select table_name || ': ' || privilege_type
     from information_schema.role_table_grants
     where grantee = 'authenticated' and table_schema = 'public'
       and privilege_type in ('TRUNCATE', 'REFERENCES', 'TRIGGER') $$,
  'authenticated cannot truncate (which ignores RLS), reference or trigger any table in public'
);

select policies_are('public', 'profiles', array[
  'Users can read their own profile',
  'Users can update their own profile'
]);

select policies_are('public', 'notes', array[
  'Users can read their own notes', 'Users can create their own notes',
  'Users can update their own notes', 'Users can delete their own notes'
]);

select is_empty(
  $$ select c.relname || ': ' || count(*) || ' policies'
     from pg_class c left join pg_policy p on p.polrelid = c.oid
     where c.oid in ('public.notes'::regclass, 'public.tasks'::regclass, 'public.goals'::regclass,
                     'public.reflections'::regclass, 'public.conversations'::regclass,
                     'public.messages'::regclass, 'public.documents'::regclass,
                     'public.document_chunks'::regclass)
     group by c.relname
     having count(*) filter (where p.polcmd = 'r') <> 1 or count(*) filter (where p.polcmd = 'a') <> 1
         or count(*) filter (where p.polcmd = 'w') <> (case c.relname when 'messages' then 0 else 1 end)
         or count(*) filter (where p.polcmd = 'd') <> 1
         or count(*) filter (where p.polcmd = '*') <> 0 $$,
  'every table but profiles has exactly one policy for each of select, insert, update and delete; messages none for update'
);

select ok(
  not has_table_privilege('authenticated', 'public.messages', 'update')
  and not has_any_column_privilege('authenticated', 'public.messages', 'update'),
  'authenticated cannot update messages: a message stays as written'
);

select is_empty(
  $$ select p.proname from pg_proc p
     where p.pronamespace = 'private'::regnamespace
       -- undo_agent_run takes a run's changes back under the caller's RLS, so it runs as the caller.
       and ((not p.prosecdef and p.proname <> 'undo_agent_run')
            or not exists (select from unnest(p.proconfig) as c where c = 'search_path=""')
            or has_function_privilege('anon', p.oid, 'execute')) $$,
  'every function in private (but undo_agent_run, which runs as the caller) runs as its owner with an empty search_path, and anon may execute none'
);

-- The advisors report unindexed foreign keys only as INFO, so they are checked here.
select is_empty(
  $$ select con.conrelid::regclass || ': ' || con.conname
     from pg_constraint con
     where con.contype = 'f' and con.connamespace = 'public'::regnamespace
       and not exists (
         select from pg_index i
         where i.indrelid = con.conrelid
           and (string_to_array(i.indkey::text, ' ')::smallint[])[1:cardinality(con.conkey)] = con.conkey
       ) $$,
  'every foreign key in public has an index that starts with its columns'
);

select is_empty(
  $$ select p.proname from pg_proc p
     where p.pronamespace = 'public'::regnamespace
       and not exists (select from unnest(p.proconfig) as c where c like 'search_path=%') $$,
  'every function in public has a fixed search_path'
);

select is_definer('public', 'handle_new_user', array[]::name[], 'handle_new_user runs as its owner');
-- prosecdef rather than isnt_definer(…, args): pgTAP 1.2 (hosted's, Debian's) matches argument
-- types by their printed names, which depend on the search path.
select ok(
  not (select prosecdef from pg_proc
       where oid = 'public.match_document_chunks(extensions.vector, integer, text)'::regprocedure),
  'match_document_chunks runs with the caller''s rights, so RLS applies'
);

select set_has(
  $$ select tablename::text from pg_publication_tables
     where pubname = 'supabase_realtime' and schemaname = 'public' $$,
  $$ values ('messages'), ('conversations'), ('notes'), ('tasks'), ('goals') $$,
  'messages, conversations, notes, tasks and goals are published to Realtime'
);

select enum_has_labels('public', 'task_status', array['todo', 'in_progress', 'done', 'cancelled']);
select enum_has_labels('public', 'task_priority', array['low', 'medium', 'high', 'urgent']);
select enum_has_labels(
  'public', 'goal_timeframe', array['life', 'yearly', 'quarterly', 'monthly', 'weekly', 'daily']
);
select enum_has_labels(
  'public', 'reflection_type', array['daily', 'weekly', 'monthly', 'quarterly', 'yearly', 'freeform']
);
select enum_has_labels('public', 'message_role', array['user', 'assistant', 'system', 'tool']);

select set_eq(
  $$ select substring(pg_get_expr(i.indpred, i.indrelid) from '''([^'']+)''')
     from pg_index i join pg_class x on x.oid = i.indexrelid join pg_am am on am.oid = x.relam
     where i.indrelid = 'public.document_chunks'::regclass and am.amname = 'hnsw' $$,
  $$ values ('local:use-lite'), ('supabase:gte-small'), ('openai:text-embedding-3-small') $$,
  'chunk embeddings have an HNSW index per model, each on that model''s vectors alone'
);

select * from finish();
rollback;
