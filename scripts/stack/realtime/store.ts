import postgres from 'postgres'
import type { Filter } from './filters.ts'
import type { Claims } from './tokens.ts'

/** A row the capture triggers appended (scripts/stack/sql/30-realtime-capture.sql). */
export interface CapturedChange {
  id: number
  schema: string
  table: string
  type: 'INSERT' | 'UPDATE' | 'DELETE' | 'BROADCAST'
  /** Only for BROADCAST: the realtime.messages row. */
  message: {
    id: string
    topic: string
    event: string | null
    payload: unknown
    private: boolean | null
  } | null
  commitTimestamp: Date
}

export interface Subscriber {
  id: string
  claims: Claims
  filters: Filter[]
}

/** The part of one change a role may see, and which subscribers see it. */
export interface Visible {
  role: string
  subscriberIds: string[]
  columns: Array<{ name: string; type: string }>
  record: Record<string, unknown> | null
  oldRecord: Record<string, unknown> | null
  primaryKey: string[]
}

/** Everything the Realtime server asks of the database, one statement per question. */
export class RealtimeStore {
  private readonly sql: postgres.Sql

  constructor(dbUrl: string) {
    this.sql = postgres(dbUrl, {
      max: 3,
      onnotice: () => {},
      connection: { application_name: 'realtime' },
      types: { bigint: postgres.BigInt },
    })
  }

  /** A jsonb parameter (postgres.js would send a plain array as a Postgres array). */
  private json(value: unknown): postgres.Parameter {
    return this.sql.json(value as postgres.JSONValue)
  }

  /** The extensions (broadcast, presence) these claims may read on a private topic. */
  async readable(topic: string, claims: Claims, extensions: string[]): Promise<Set<string>> {
    const [row] = await this.sql<[{ allowed: string[] }]>`
      select realtime_local.readable(${topic}, ${this.json(claims)}, ${extensions}::text[]) as allowed`
    return new Set(row.allowed)
  }

  /** The extensions these claims may write (broadcast, track) on a private topic. */
  async writable(topic: string, claims: Claims, extensions: string[]): Promise<Set<string>> {
    const [row] = await this.sql<[{ allowed: string[] }]>`
      select realtime_local.writable(${topic}, ${this.json(claims)}, ${extensions}::text[]) as allowed`
    return new Set(row.allowed)
  }

  /** Why a postgres_changes subscription cannot be made, or null (its tables are then captured). */
  async subscriptionError(
    schema: string,
    table: string,
    filters: Filter[],
    role: string,
    select: string[] | null,
  ): Promise<string | null> {
    const [row] = await this.sql<[{ error: string | null }]>`
      select realtime_local.subscription_error(
        ${schema}, ${table}, ${this.json(filters)}, ${role}, ${select}::text[]) as error`
    return row.error
  }

  /**
   * Of these sessions, the ids of those that ended: gone from auth.sessions (signed out, revoked),
   * past their `not_after`, or not the user's. The rule of private.session_is_active (ADR 0009),
   * asked for many sessions at once.
   */
  async endedSessions(sessions: Array<{ id: string; userId: string }>): Promise<Set<string>> {
    if (!sessions.length) return new Set()
    const rows = await this.sql<Array<{ id: string }>>`
      select s.id::text as id
      from unnest(${sessions.map((s) => s.id)}::uuid[], ${sessions.map((s) => s.userId)}::uuid[]) as s(id, user_id)
      where not exists (
        select 1 from auth.sessions a
        where a.id = s.id and a.user_id = s.user_id and (a.not_after is null or a.not_after > now()))`
    return new Set(rows.map((row) => row.id))
  }

  async syncCapture(): Promise<void> {
    await this.sql`select realtime_local.sync_capture()`
  }

  async lastChangeId(): Promise<number> {
    const [row] = await this.sql<
      [{ id: bigint }]
    >`select coalesce(max(id), 0) as id from realtime_local.changes`
    return Number(row.id)
  }

  async changesAfter(id: number, limit: number): Promise<CapturedChange[]> {
    const rows = await this.sql<
      Array<{
        id: bigint
        schema_name: string
        table_name: string
        type: CapturedChange['type']
        message: CapturedChange['message']
        commit_timestamp: Date
      }>
    >`
      select id, schema_name, table_name, type, commit_timestamp,
        case when type = 'BROADCAST' then record end as message
      from realtime_local.changes where id > ${id} order by id limit ${limit}`
    return rows.map((row) => ({
      id: Number(row.id),
      schema: row.schema_name,
      table: row.table_name,
      type: row.type,
      message: row.message,
      commitTimestamp: row.commit_timestamp,
    }))
  }

  async fanout(changeId: number, subscribers: Subscriber[]): Promise<Visible[]> {
    // Subscribers sharing claims (one user's many channels) are checked once.
    const claims: Claims[] = []
    const index = new Map<string, number>()
    const subs = subscribers.map((s) => {
      const key = JSON.stringify(s.claims)
      let i = index.get(key)
      if (i === undefined) {
        i = claims.push(s.claims) - 1
        index.set(key, i)
      }
      return { id: s.id, claims: i, filters: s.filters }
    })
    const rows = await this.sql<
      Array<{
        role_name: string
        subscriber_ids: string[]
        columns: Visible['columns']
        new_record: Visible['record']
        old_record: Visible['oldRecord']
        primary_key: string[]
      }>
    >`
      select * from realtime_local.fanout(
        ${changeId}, ${this.json(subs)}, ${this.json(claims)})`
    return rows.map((row) => ({
      role: row.role_name,
      subscriberIds: row.subscriber_ids,
      columns: row.columns,
      record: row.new_record,
      oldRecord: row.old_record,
      primaryKey: row.primary_key,
    }))
  }

  /** Captured rows every server has had time to deliver. */
  async pruneChanges(olderThanSeconds: number): Promise<void> {
    await this.sql`
      delete from realtime_local.changes where commit_timestamp < now() - make_interval(secs => ${olderThanSeconds})`
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 })
  }
}
