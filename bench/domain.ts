import type postgres from 'postgres'
import type { Block } from '../shared/blocknote/schema.ts'
import { syncChecklist } from '../shared/checklist/service.ts'
import { withUser } from '../shared/db/with-user.ts'
import { verifyAccessToken } from '../shared/http/require-user.ts'
import { columnsOf } from '../shared/core/schemas.ts'
import { NoteSchema } from '../shared/notes/schemas.ts'
import { expectOk, type Measurement, measure } from './lib.ts'
import type { BenchContext } from './run.ts'

// The domain functions through the full path (gateway → Deno function → auth → validation →
// withUser → Postgres), each beside the SQL underneath run directly with postgres.js in a
// transaction with the same RLS settings: listing 50 of 10,000 notes, creating a task, and saving
// a note of 200 checklist items (the note update plus the checklist sync).

const NOTES = 10_000
const CHECKLIST_ITEMS = 200

const paragraph = (id: string, text: string): Block => ({
  id,
  type: 'paragraph',
  props: { textColor: 'default', backgroundColor: 'default', textAlignment: 'left' },
  content: [{ type: 'text', text, styles: {} }],
  children: [],
})

/** A checklist of 200 items; `round` renames and checks a different half each time, so every save syncs. */
function checklist(round: number): Block[] {
  return Array.from({ length: CHECKLIST_ITEMS }, (_, i) => ({
    id: `item-${i}`,
    type: 'checkListItem',
    props: {
      textColor: 'default',
      backgroundColor: 'default',
      textAlignment: 'left',
      checked: (i + round) % 2 === 0,
    },
    content: [{ type: 'text', text: `Item ${i}, version ${(i + round) % 2}`, styles: {} }],
    children: [],
  }))
}

async function seedNotes(sql: postgres.Sql, userId: string): Promise<void> {
  const content = sql.json([paragraph('p', 'A short note about planning the week ahead.')] as never)
  await sql`
    insert into public.notes (user_id, title, content, is_pinned, created_at, updated_at)
    select ${userId}, 'Note ' || i, ${content}, i % 500 = 0,
           now() - i * interval '1 minute', now() - i * interval '1 minute'
    from generate_series(1, ${NOTES}) as i`
  await sql`analyze public.notes`
}

/** Runs `work` in a transaction as the user, the way withUser does, without the HTTP path around it. */

const ratio = (full: Measurement, direct: Measurement) =>
  `${full.name}: ${(full.p50 / direct.p50).toFixed(1)}× the direct p50, ${(direct.rps / full.rps).toFixed(1)}× fewer requests/s`

export async function runDomainBench({ stack, sql, user }: BenchContext): Promise<Measurement[]> {
  const api = `${stack.apiUrl}/functions/v1`
  const headers = { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' }
  await seedNotes(sql, user.id)
  // The same withUser the functions run: the direct rows send exactly a request's statements.
  const claims = await verifyAccessToken(user.token)

  const listFull = await measure(
    `GET notes?limit=50 of ${NOTES}, full path`,
    async () => expectOk(await fetch(`${api}/notes?limit=50`, { headers })),
    { requests: 1000, concurrency: 8, warmup: 50 },
  )
  const listDirect = await measure(
    'same list query, postgres.js directly',
    () =>
      withUser(
        claims,
        (tx) => tx`
          select ${tx(columnsOf(NoteSchema))} from public.notes
          where user_id = ${user.id} and is_archived = false
          order by is_pinned desc, updated_at desc, id desc
          limit 51`,
      ),
    { requests: 1000, concurrency: 8, warmup: 50 },
  )

  const createFull = await measure(
    'POST tasks, full path',
    async (i) =>
      expectOk(
        await fetch(`${api}/tasks`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ title: `Bench task ${i}`, priority: 'high', due_date: '2031-01-01' }),
        }),
      ),
    { requests: 1000, concurrency: 8, warmup: 50 },
  )
  const createDirect = await measure(
    'same insert, postgres.js directly',
    (i) =>
      withUser(
        claims,
        (tx) => tx`
          insert into public.tasks (user_id, title, priority, due_date)
          values (${user.id}, ${`Direct task ${i}`}, 'high', '2031-01-01') returning *`,
      ),
    { requests: 1000, concurrency: 8, warmup: 50 },
  )

  const [note] = await sql<{ id: string }[]>`
    insert into public.notes (user_id, title) values (${user.id}, 'Checklist bench') returning id`
  const syncFull = await measure(
    `PUT notes/{id} with ${CHECKLIST_ITEMS} checklist items (sync), full path`,
    async (i) =>
      expectOk(
        await fetch(`${api}/notes/${note.id}`, {
          method: 'PUT',
          headers,
          body: JSON.stringify({ content: checklist(i) }),
        }),
      ),
    { requests: 200, concurrency: 2, warmup: 10 },
  )
  const [direct] = await sql<{ id: string }[]>`
    insert into public.notes (user_id, title) values (${user.id}, 'Checklist bench, direct') returning id`
  const syncDirect = await measure(
    'same note update + sync statement, postgres.js directly',
    (i) =>
      withUser(claims, async (tx) => {
        const content = checklist(i)
        await tx`update public.notes set content = ${tx.json(content as never)} where id = ${direct.id}`
        return syncChecklist(tx, user.id, direct.id, content)
      }),
    { requests: 200, concurrency: 2, warmup: 10 },
  )

  for (const [full, underlying] of [
    [listFull, listDirect],
    [createFull, createDirect],
    [syncFull, syncDirect],
  ]) {
    console.log(ratio(full, underlying))
  }
  return [listFull, listDirect, createFull, createDirect, syncFull, syncDirect]
}
