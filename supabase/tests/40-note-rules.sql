-- Notes: a tree without cycles (20261125001000_domain_rules.sql) and full-text search over the
-- title and the text of BlockNote content.
begin;
select plan(10);

select tests.create_supabase_user('alice');
select tests.authenticate_as('alice');

insert into public.notes (id, title) values ('a0000000-0000-4000-8000-000000000001', 'a');
insert into public.notes (id, parent_id, title)
values ('a0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001', 'b');
insert into public.notes (id, parent_id, title)
values ('a0000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-000000000002', 'c');

select throws_ok(
  $$ update public.notes set parent_id = 'a0000000-0000-4000-8000-000000000003'
     where id = 'a0000000-0000-4000-8000-000000000001' $$,
  '23514', 'A note cannot be placed under itself or one of its own sub-notes',
  'a note cannot move under its own grandchild'
);

select throws_ok(
  $$ update public.notes set parent_id = 'a0000000-0000-4000-8000-000000000001'
     where id = 'a0000000-0000-4000-8000-000000000001' $$,
  '23514', 'A note cannot be placed under itself or one of its own sub-notes',
  'a note cannot be its own parent'
);

select lives_ok(
  $$ update public.notes set parent_id = 'a0000000-0000-4000-8000-000000000001'
     where id = 'a0000000-0000-4000-8000-000000000003' $$,
  'a note moves elsewhere in its tree'
);

select lives_ok(
  $$ update public.notes set parent_id = null where id = 'a0000000-0000-4000-8000-000000000002' $$,
  'a note moves to the top'
);

select is(
  public.blocknote_text('[
    {"id": "1", "type": "paragraph", "props": {"textColor": "red"}, "content": [
      {"type": "text", "text": "plain", "styles": {}},
      {"type": "link", "href": "https://x", "content": [{"type": "text", "text": "linked", "styles": {}}]}
    ], "children": [
      {"id": "2", "type": "table", "props": {}, "content": {"type": "tableContent", "rows": [
        {"cells": [[{"type": "text", "text": "cell", "styles": {}}]]}
      ]}, "children": []}
    ]}
  ]'::jsonb),
  'plain linked cell',
  'blocknote_text gathers the text of every inline node: links, nested blocks, table cells'
);

select is(public.blocknote_text('[]'::jsonb), '', 'an empty document has no text');

update public.notes
set content = '[{"id": "p", "type": "paragraph", "props": {}, "content": [{"type": "text", "text": "Quarterly roadmap", "styles": {}}], "children": []}]'
where id = 'a0000000-0000-4000-8000-000000000002';

select results_eq(
  $$ select id from public.notes where search @@ websearch_to_tsquery('simple', 'roadmap') $$,
  $$ values ('a0000000-0000-4000-8000-000000000002'::uuid) $$,
  'search finds a word of the content'
);

select results_eq(
  $$ select title from public.notes where search @@ websearch_to_tsquery('simple', 'c') $$,
  $$ values ('c'::text) $$,
  'search finds a word of the title'
);

select is_empty(
  $$ select 1 from public.notes where search @@ websearch_to_tsquery('simple', 'textColor') $$,
  'search leaves out props and block types'
);

select has_index('public', 'notes', 'notes_search_idx', 'search has a GIN index');

select * from finish();
rollback;
