import type { Block } from '../blocknote/schema.ts'
import { type JwtClaims, type ServiceContext, userContext } from '../core/context.ts'
import { defineVerb } from '../core/verb.ts'
import { getSql } from '../db/client.ts'
import { withUser, withUserStatement } from '../db/with-user.ts'
import { inBackground } from './background.ts'
import { type ChunkOptions, chunkText, type PageSpan } from './chunking.ts'
import {
  configuredEmbeddingModel,
  type Embedder,
  type EmbeddingModelName,
  getEmbedder,
} from './embeddings.ts'
import { noteText } from './extract.ts'
import { DrainSchema } from './schemas.ts'

// The indexing queue's worker (docs/adr/0028): claim a user's due jobs in one short transaction,
// chunk and embed each source with no transaction open (a model call may take seconds), then
// replace the source's chunks in one transaction. A failed attempt is tried again later (backoff);
// after MAX_ATTEMPTS a document is failed with the error. Runs as the user: RLS decides what it
// sees, and it writes nothing of anyone else's.

export const MAX_ATTEMPTS = 5
/** How long a claim holds: a worker that died frees its jobs after this. */
const LEASE_SECONDS = 300

interface Job {
  id: string
  document_id: string | null
  note_id: string | null
  requested_at: string
  attempts: number
}

interface Source {
  title: string
  text: string
  format: ChunkOptions['format']
  pages?: PageSpan[]
  createdAt: string
}

export interface ChunkRow {
  chunk_index: number
  content: string
  context: string
  heading_path: string[]
  page: number | null
  char_start: number
  char_end: number
  token_count: number
  embedding: number[]
}

const errorText = (error: unknown) =>
  (error instanceof Error ? error.message : String(error)).slice(0, 2000) || 'Unknown error'

/** Backoff before attempt n + 1: 5 s, 20 s, 80 s, 320 s. */
const backoffSeconds = (attempts: number) => 5 * 4 ** Math.max(0, attempts - 1)

/** A document's text is chunked as its type reads: Markdown and HTML (stored as Markdown) by headings. */
export const formatOf = (mimeType: string): ChunkOptions['format'] =>
  mimeType === 'text/markdown' || mimeType === 'text/html' ? 'markdown' : 'plain'

/** Chunks of a source, each with the text its vector is made from: context (title › headings) and passage. */
export async function chunkSource(source: Source, embedder: Embedder): Promise<ChunkRow[]> {
  const chunks = await chunkText(source.text, { format: source.format, pages: source.pages })
  const contexts = chunks.map((chunk) => {
    const path =
      chunk.headingPath[0] === source.title ? chunk.headingPath : [source.title, ...chunk.headingPath]
    return path.filter(Boolean).join(' › ').slice(0, 4000)
  })
  // A passage that repeats one before it in the same source (boilerplate, a pasted run) is kept
  // once, at its first place: the same text and vector again would only crowd a search's top k, and
  // cost an embedding and a row each (a 1 MiB note of one repeated word was 3,103 passages of 4 texts).
  const seen = new Set<string>()
  const kept = chunks.flatMap((chunk, i) => {
    const text = `${contexts[i]}\n\n${chunk.content}`
    if (seen.has(text)) return []
    seen.add(text)
    return [{ chunk, context: contexts[i], text }]
  })
  const vectors = await embedder.embed(kept.map((passage) => passage.text))
  return kept.map(({ chunk, context }, i) => ({
    chunk_index: chunk.index,
    content: chunk.content,
    context,
    heading_path: chunk.headingPath,
    page: chunk.page,
    char_start: chunk.charStart,
    char_end: chunk.charEnd,
    token_count: chunk.tokenCount,
    embedding: vectors[i],
  }))
}

/** Queues every source of the user's whose chunks are of another model than `model` (a model change). */
async function queueOtherModels(ctx: ServiceContext, model: EmbeddingModelName): Promise<void> {
  await withUserStatement(
    ctx,
    (tx) => tx`
      with stale_documents as (
        select d.id from public.documents as d
        where d.user_id = ${ctx.userId} and d.status = 'ready' and d.embedding_model is distinct from ${model}
      ), stale_notes as (
        select distinct c.note_id as id from public.document_chunks as c
        where c.user_id = ${ctx.userId} and c.note_id is not null and c.embedding_model is distinct from ${model}
      ), queued_documents as (
        insert into public.knowledge_jobs (user_id, document_id)
        select ${ctx.userId}, id from stale_documents
        on conflict (user_id, document_id) do nothing
      )
      insert into public.knowledge_jobs (user_id, note_id)
      select ${ctx.userId}, id from stale_notes
      on conflict (user_id, note_id) do nothing`,
  )
}

/** Claims up to `limit` due jobs (or the ones named); documents among them become `processing`. */
async function claim(ctx: ServiceContext, limit: number, ids?: string[]): Promise<Job[]> {
  return withUser(ctx, async (tx) => {
    // A job whose last attempt's worker died (lease over, no attempts left) fails its document.
    await tx`
      with dead as (
        delete from public.knowledge_jobs
        where user_id = ${ctx.userId} and attempts >= ${MAX_ATTEMPTS} and locked_until < now()
          and document_id is not null
        returning document_id, last_error
      )
      update public.documents as d
      set status = 'failed', error = coalesce(dead.last_error, 'Processing did not finish')
      from dead where d.id = dead.document_id`
    const jobs = await tx<Job[]>`
      update public.knowledge_jobs as j
      set locked_until = now() + make_interval(secs => ${LEASE_SECONDS}), attempts = j.attempts + 1
      where j.id in (
        select id from public.knowledge_jobs
        where user_id = ${ctx.userId} and run_after <= now() and attempts < ${MAX_ATTEMPTS}
          and (locked_until is null or locked_until < now())
          ${ids ? tx`and id = any(${ids}::uuid[])` : tx``}
        order by run_after
        limit ${limit}
        for update skip locked
      )
      returning j.id, j.document_id, j.note_id, j.requested_at::text, j.attempts`
    const documents = jobs.flatMap((job) => (job.document_id ? [job.document_id] : []))
    if (documents.length > 0) {
      await tx`update public.documents set status = 'processing' where id = any(${documents}::uuid[])`
    }
    return jobs
  })
}

async function loadSource(ctx: ServiceContext, job: Job): Promise<Source | undefined> {
  return withUser(ctx, async (tx) => {
    if (job.document_id) {
      const [row] = await tx<
        Array<{
          title: string
          content: string
          mime_type: string
          pages: PageSpan[] | null
          created_at: string
        }>
      >`select title, content, mime_type, pages, created_at from public.documents where id = ${job.document_id}`
      return row
        ? {
            title: row.title,
            text: row.content,
            format: formatOf(row.mime_type),
            pages: row.pages ?? undefined,
            createdAt: row.created_at,
          }
        : undefined
    }
    const [note] = await tx<Array<{ title: string; content: Block[]; created_at: string }>>`
      select title, content, created_at from public.notes where id = ${job.note_id}`
    return note
      ? {
          title: note.title,
          text: noteText(note.title, note.content),
          format: 'markdown',
          createdAt: note.created_at,
        }
      : undefined
  })
}

/** Replaces the source's chunks with these, in one transaction; the job goes unless the source was saved again. */
async function store(ctx: ServiceContext, job: Job, source: Source, rows: ChunkRow[], model: string) {
  await withUser(ctx, async (tx) => {
    const column = job.document_id ? tx`document_id` : tx`note_id`
    const sourceId = job.document_id ?? job.note_id
    // Deleted meanwhile: its job went with it, and there is nothing to store.
    const [present] = job.document_id
      ? await tx`select 1 from public.documents where id = ${sourceId} for update`
      : await tx`select 1 from public.notes where id = ${sourceId} for share`
    if (!present) return
    await tx`delete from public.document_chunks where user_id = ${ctx.userId} and ${column} = ${sourceId}`
    if (rows.length > 0) {
      await tx`
        insert into public.document_chunks
          (user_id, document_id, note_id, chunk_index, content, context, heading_path, page, char_start, char_end,
           token_count, embedding, embedding_model, source_created_at)
        select ${ctx.userId}, ${job.document_id}, ${job.note_id}, r.chunk_index, r.content, r.context, r.heading_path,
               r.page, r.char_start, r.char_end, r.token_count, r.embedding::extensions.vector, ${model},
               ${source.createdAt}::timestamptz
        from jsonb_to_recordset(${tx.json(rows as never)}::jsonb) as r (
          chunk_index integer, content text, context text, heading_path text[], page integer,
          char_start integer, char_end integer, token_count integer, embedding real[])`
    }
    if (job.document_id) {
      await tx`
        update public.documents
        set status = 'ready', error = null, embedding_model = ${model}, processed_at = now()
        where id = ${job.document_id}`
    }
    const [done] = await tx`
      delete from public.knowledge_jobs where id = ${job.id} and requested_at = ${job.requested_at}::timestamptz
      returning 1`
    if (!done) {
      // Saved again while this ran: the job stays, due now, for the newer version.
      await tx`update public.knowledge_jobs set locked_until = null, attempts = 0 where id = ${job.id}`
    }
  })
}

async function recordFailure(ctx: ServiceContext, job: Job, error: unknown): Promise<void> {
  const message = errorText(error)
  const last = job.attempts >= MAX_ATTEMPTS
  await withUser(ctx, async (tx) => {
    await tx`
      update public.knowledge_jobs
      set locked_until = null, last_error = ${message},
          run_after = now() + make_interval(secs => ${backoffSeconds(job.attempts)})
      where id = ${job.id}`
    if (job.document_id) {
      await tx`
        update public.documents set status = ${last ? 'failed' : 'pending'}, error = ${message}
        where id = ${job.document_id}`
      if (last) await tx`delete from public.knowledge_jobs where id = ${job.id}`
    }
  })
}

export interface DrainResult {
  /** Sources indexed (chunked, embedded, stored). */
  indexed: number
  /** Attempts that failed (to be tried again, or failed for good after the last). */
  failed: number
}

/** Runs jobs: the named ones, or up to `limit` due ones. */
export async function runJobs(
  ctx: ServiceContext,
  options: { limit: number; ids?: string[] },
): Promise<DrainResult> {
  const own: ServiceContext = { ...ctx, tx: undefined }
  const model = configuredEmbeddingModel()
  if (!options.ids) await queueOtherModels(own, model)
  const jobs = await claim(own, options.limit, options.ids)
  const result: DrainResult = { indexed: 0, failed: 0 }
  for (const job of jobs) {
    try {
      const source = await loadSource(own, job)
      if (!source) continue
      const embedder = await getEmbedder(model)
      const rows = await chunkSource(source, embedder)
      await store(own, job, source, rows, embedder.model)
      result.indexed++
    } catch (error) {
      result.failed++
      await recordFailure(own, job, error).catch((failure: unknown) =>
        console.error('recording a failed knowledge job failed:', failure),
      )
    }
  }
  return result
}

/**
 * Indexes the user's queued sources: notes saved since, documents uploaded or reindexed, and every
 * source of another embedding model than the configured one. Returns what it did.
 */
export const drainKnowledge = defineVerb('knowledge.drain', DrainSchema, ({ ctx, input }) =>
  runJobs(ctx, { limit: input.limit }),
)

/** Rounds of jobs one drain of a user runs (10 jobs each) before the next user's turn. */
const DRAIN_ROUNDS = 20

/** Drains the user's queue after the response (a few rounds, while there is work). */
export function drainInBackground(ctx: ServiceContext): void {
  drainSoon(ctx)
}

/** What a drain did: whether it indexed anything, and whether work may be left (a failure, or the rounds ran out). */
interface Drained {
  progressed: boolean
  left: boolean
}

async function drainRounds(ctx: ServiceContext, rounds: number): Promise<Drained> {
  let progressed = false
  let failures = false
  for (let round = 0; round < rounds; round++) {
    const { indexed, failed } = await runJobs(ctx, { limit: 10 })
    if (indexed > 0) progressed = true
    if (failed > 0) failures = true
    if (indexed + failed === 0) return { progressed, left: failures }
  }
  return { progressed, left: true }
}

/** Users waiting for a drain in this instance, in order, each with the context it runs as. */
const waiting = new Map<string, ServiceContext>()
let draining = false

/**
 * A drain that left work (an attempt failed, the drain itself failed, or its rounds ran out) comes
 * back for the user by itself once the user's next job can be claimed: where no periodic drain
 * runs (the test suite, a stack started with it off) the hand-off is the only trigger, and elsewhere
 * a failed first attempt would wait up to a minute for that drain. Per user, the pending timer and
 * how many follow-ups in a row found nothing to index (past MAX_FOLLOW_UPS it stops; the periodic
 * drain stays the net). An instance that ends takes its timers with it; nothing is lost, as the
 * jobs stay queued.
 */
const followUps = new Map<string, { idle: number; timer: ReturnType<typeof setTimeout> }>()
const MAX_FOLLOW_UPS = MAX_ATTEMPTS
/** The longest a follow-up waits: a job's last backoff, with a second to spare. */
const MAX_FOLLOW_UP_SECONDS = backoffSeconds(MAX_ATTEMPTS - 1) + 1

function forgetFollowUp(userId: string): void {
  const pending = followUps.get(userId)
  if (pending) clearTimeout(pending.timer)
  followUps.delete(userId)
}

/** Seconds until the user's next job can be claimed (due and not held), or undefined if none waits. */
async function nextClaimIn(ctx: ServiceContext): Promise<number | undefined> {
  const [row] = await withUserStatement(
    ctx,
    (tx) => tx<Array<{ seconds: number | null }>>`
      select extract(epoch from min(greatest(run_after, coalesce(locked_until, run_after))) - now())::float8
             as seconds
      from public.knowledge_jobs
      where user_id = ${ctx.userId} and attempts < ${MAX_ATTEMPTS}`,
  )
  return row.seconds === null ? undefined : row.seconds
}

async function followUp(userId: string, ctx: ServiceContext, drained: Drained): Promise<void> {
  const idle = drained.progressed ? 0 : (followUps.get(userId)?.idle ?? 0) + 1
  forgetFollowUp(userId)
  if (idle > MAX_FOLLOW_UPS) return
  // If even this question fails (the database is away), ask again after a backoff of its own.
  const seconds = await nextClaimIn(ctx).catch(() => backoffSeconds(Math.max(1, idle)))
  if (seconds === undefined) return
  const delay = Math.min(MAX_FOLLOW_UP_SECONDS, Math.max(0, seconds) + 0.5) * 1000
  const timer = setTimeout(() => drainSoon(ctx, true), delay)
  // The timer alone does not keep a process alive (Node's timers unref; Deno's ids, Deno.unrefTimer).
  if (typeof timer === 'object') (timer as { unref?: () => void }).unref?.()
  else (globalThis as { Deno?: { unrefTimer?(id: unknown): void } }).Deno?.unrefTimer?.(timer)
  followUps.set(userId, { idle, timer })
}

/**
 * Drains the user's queue in the background. One drain at a time in an instance, users in turn: a
 * user asked for again while waiting (a note saved twice in a row) waits once; asked for while their
 * drain runs, they wait for one more. Chunking and embedding are CPU work on this thread, so two
 * drains at once would only slow each other, and keep each other's transactions open longer.
 */
export function drainSoon(ctx: ServiceContext, isFollowUp = false): void {
  if (!isFollowUp) forgetFollowUp(ctx.userId)
  waiting.set(ctx.userId, { ...ctx, tx: undefined })
  if (draining) return
  draining = true
  inBackground('knowledge.drain', async () => {
    try {
      for (const [userId, userCtx] of waiting) {
        waiting.delete(userId)
        let drained: Drained
        try {
          drained = await drainRounds(userCtx, DRAIN_ROUNDS)
        } catch (error) {
          console.error(`knowledge drain for ${userId} failed:`, error)
          drained = { progressed: false, left: true }
        }
        if (drained.left) await followUp(userId, userCtx, drained).catch(() => {})
        else forgetFollowUp(userId)
      }
    } finally {
      draining = false
    }
  })
}

/** The user's jobs that wait (due now or later, or being worked on): what a drain has before it. */
export async function queuedJobs(ctx: ServiceContext): Promise<number> {
  const [row] = await withUserStatement(
    ctx,
    (tx) => tx<Array<{ count: number }>>`
      select count(*)::integer as count from public.knowledge_jobs
      where user_id = ${ctx.userId} and attempts < ${MAX_ATTEMPTS}`,
  )
  return row.count
}

/**
 * The claims a periodic drain works under for a user it found work for: that user (RLS shows it
 * their rows only), and no session (there is no request, so none to check). Made here, after the
 * caller proved it holds the service-role key; never from anything a client sends.
 */
const drainClaims = (userId: string): JwtClaims => ({
  sub: userId,
  role: 'authenticated',
  aud: 'authenticated',
})

/**
 * Users with knowledge work: due jobs (retries, notes saved while no drain ran, leases run out) or
 * passages of another model than the configured one (of `onlyUsers`, when given). Read by the function's own database role,
 * which sees every user's queue; private.knowledge_work_users is not granted to users.
 */
export async function usersWithWork(maxUsers: number, onlyUsers?: readonly string[]): Promise<string[]> {
  const rows = await getSql()<Array<{ user_id: string }>>`
    select user_id from private.knowledge_work_users(
      ${configuredEmbeddingModel()}, ${MAX_ATTEMPTS}, ${maxUsers}, ${onlyUsers ? [...onlyUsers] : null}::uuid[])`
  return rows.map((row) => row.user_id)
}

/**
 * The periodic drain (pg_cron on hosted Supabase, a timer in the local stack; docs/adr/0032): each
 * user with work is queued for a drain (drainSoon), run as that user under their RLS.
 */
export function drainUsers(userIds: readonly string[]): void {
  for (const userId of userIds) drainSoon(userContext(drainClaims(userId)))
}
