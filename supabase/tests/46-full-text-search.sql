-- Full-text search tells one story: notes, tasks, goals and document chunks keep a generated `search`
-- vector in the 'simple' configuration, queried with websearch_to_tsquery('simple', …)
-- (docs/adr/0016-full-text-search-configuration.md).
begin;
select plan(9);

select set_eq(
  $$ select c.relname::text, a.attname::text
     from pg_attribute a join pg_class c on c.oid = a.attrelid
     where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
       and a.atttypid = 'tsvector'::regtype and not a.attisdropped $$,
  $$ values ('notes', 'search'), ('tasks', 'search'), ('goals', 'search'), ('document_chunks', 'search') $$,
  'notes, tasks, goals and document chunks each have one full-text vector, named search'
);

select is_empty(
  $$ select c.relname || '.' || a.attname
     from pg_attribute a join pg_class c on c.oid = a.attrelid
     where c.relnamespace = 'public'::regnamespace and a.atttypid = 'tsvector'::regtype and not a.attisdropped
       and a.attgenerated <> 's' $$,
  'each is generated from the row, so it cannot drift from the text'
);

select set_eq(
  $$ select distinct m[1]
     from pg_attrdef d
     join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
     join pg_class c on c.oid = d.adrelid,
     regexp_matches(pg_get_expr(d.adbin, d.adrelid), 'to_tsvector\(''(\w+)''::regconfig', 'g') m
     where c.relnamespace = 'public'::regnamespace and a.atttypid = 'tsvector'::regtype $$,
  $$ values ('simple') $$,
  'every one of them uses the simple configuration'
);

select is_empty(
  $$ select c.relname || '.' || a.attname
     from pg_attribute a join pg_class c on c.oid = a.attrelid
     where c.relnamespace = 'public'::regnamespace and a.atttypid = 'tsvector'::regtype and not a.attisdropped
       and not exists (
         select from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_am am on am.oid = ic.relam
         where i.indrelid = c.oid and i.indkey[0] = a.attnum and am.amname = 'gin') $$,
  'each has a GIN index'
);

select tests.create_supabase_user('alice');
select tests.authenticate_as('alice');

insert into public.notes (title, content) values
  ('Einkaufsliste', '[{"id": "b1", "type": "paragraph", "content": [{"type": "text", "text": "Äpfel und Brot"}]}]'),
  ('The Who', '[]');
insert into public.tasks (title, description) values ('Réserver le vol', 'Départ à 9 h, siège côté hublot');
insert into public.documents (id, title) values ('a0000000-0000-4000-8000-000000000001', 'Notes');
insert into public.document_chunks (document_id, chunk_index, content) values
  ('a0000000-0000-4000-8000-000000000001', 0, 'Running shoes for the marathon'),
  ('a0000000-0000-4000-8000-000000000001', 1, 'Встреча с командой в среду');

select results_eq(
  $$ select title from public.notes where search @@ websearch_to_tsquery('simple', 'äpfel') $$,
  $$ values ('Einkaufsliste') $$,
  'a note is found by a word of any language, case-insensitively'
);

select results_eq(
  $$ select title from public.notes where search @@ websearch_to_tsquery('simple', '"the who"') $$,
  $$ values ('The Who') $$,
  'no word is a stop word: "The Who" is found'
);

select results_eq(
  $$ select title from public.tasks where search @@ websearch_to_tsquery('simple', 'départ hublot') $$,
  $$ values ('Réserver le vol') $$,
  'a task is found by words of its description, accents kept'
);

select results_eq(
  $$ select chunk_index from public.document_chunks where search @@ websearch_to_tsquery('simple', 'встреча') $$,
  $$ values (1) $$,
  'a document chunk is found the same way, in any script'
);

select is_empty(
  $$ select 1 from public.document_chunks where search @@ websearch_to_tsquery('simple', 'run') $$,
  'words are not stemmed: "run" does not find "running" (the embedding finds what a word means)'
);

select * from finish();
rollback;
