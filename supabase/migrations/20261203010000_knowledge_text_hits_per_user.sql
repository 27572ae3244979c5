-- Full-text candidates read the caller's passages only, not every passage stored before them
-- (docs/adr/0036-knowledge-retrieval-latency.md, "Other users' passages").
--
-- private.knowledge_text_hits takes up to `depth` passages from each of its lists. For words that
-- many passages have, the planner chose a sequential scan that stops at the `depth`th match. It
-- priced that scan as if the caller's passages were spread evenly through the table. They are not:
-- a user's passages sit where they were written. So the scan read every other user's passages
-- stored before the caller's. In pgTAP, 600 of another user's passages written first took a
-- search from under 1,000 rows read to 2,985. On a table of many users that is the whole table.
-- With sequential scans priced out inside the helper, each list reads by the full-text index (rare
-- words) or by an index on user_id, stopping at the `depth`th of the caller's own matches.
-- Signature, results and rights are unchanged.

create or replace function private.knowledge_text_hits(
  all_terms tsquery,
  every_word tsquery,
  any_word tsquery,
  excludes boolean,
  depth integer,
  pool integer,
  sources text[],
  document_ids uuid[],
  note_ids uuid[],
  created_after timestamptz,
  created_before timestamptz
)
returns table (id uuid, rank integer)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid := auth.uid();
  previous_seqscan text := pg_catalog.current_setting('enable_seqscan');
begin
  if caller is null then
    return;
  end if;
  -- No list may be a sequential scan (set here, not in a SET clause: see 20261201001000; put back
  -- below): each must read only the caller's passages, by the full-text index or by an index on
  -- user_id, whatever the statistics say of the table as a whole.
  perform pg_catalog.set_config('enable_seqscan', 'off', true);
  -- One statement planned with these values (EXECUTE … USING): the filters not given fold away,
  -- and each list's plan fits its words (GIN for rare ones, a scan that stops early for common ones).
  return query execute pg_catalog.format($sql$
    select g.id, (row_number() over (order by g.all_terms desc, g.rank desc, g.id))::integer
    from (
      select m.id, pg_catalog.bool_or(m.all_terms) as all_terms, pg_catalog.max(m.rank) as rank
      from (
        (select c.id, true as all_terms, %2$s as rank
         from public.document_chunks as c
         where pg_catalog.numnode($1) > 0 and c.search @@ $1 and %1$s
         limit $5)
        union all
        (select c.id, c.search @@ $1, %2$s
         from public.document_chunks as c
         where $2 is not null and c.search @@ $2 and (not $4 or c.search @@ $1) and %1$s
         limit $5)
        union all
        (select c.id, c.search @@ $1, %2$s
         from public.document_chunks as c
         where $3 is not null and c.search @@ $3 and (not $4 or c.search @@ $1) and %1$s
         limit $5)
      ) as m
      group by m.id
      order by 2 desc, 3 desc, m.id
      limit $6
    ) as g
  $sql$,
    '(c.user_id = $12)
     and ($7::text[] is null or (case when c.note_id is null then ''documents'' else ''notes'' end) = any ($7))
     and ($8::uuid[] is null or c.document_id = any ($8))
     and ($9::uuid[] is null or c.note_id = any ($9))
     and ($10::timestamptz is null or c.source_created_at >= $10)
     and ($11::timestamptz is null or c.source_created_at < $11)',
    $r$pg_catalog.ts_rank('{0.5, 0.5, 0.8, 1}'::real[], c.search, $3)$r$
  )
  using all_terms, every_word, any_word, excludes, depth, pool,
        sources, document_ids, note_ids, created_after, created_before, caller;
  perform pg_catalog.set_config('enable_seqscan', previous_seqscan, true);
end;
$$;

