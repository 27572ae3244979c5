import postgres from 'postgres'
import type { Filter } from './filters.ts'
import type { Claims } from './tokens.ts'

/** A row the capture triggers appended (scripts/stack/sql/30-realtime-capture.sql). */
export interface CapturedChange {
  id: number
  /** The writing transaction's id (xid8), as text. */
  txid: string
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

  /**
   * The oldest transaction still running (pg_snapshot_xmin), as text: every captured row of an
   * older transaction is committed (or rolled back), so reading below it misses nothing.
   */
  async horizon(): Promise<string> {
    const [row] = await this.sql<[{ horizon: string }]>`
      select pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::text as horizon`
    return row.horizon
  }

  /**
   * The captured rows of transactions from `low` on (by txid) except the `delivered` ones, in id
   * order, with the horizon of the same snapshot: every row is committed (only committed rows are
   * visible), and every row of a transaction below the horizon is among them or was read before.
   */
  async readChanges(
    low: string,
    delivered: number[],
    limit: number,
  ): Promise<{ horizon: string; changes: CapturedChange[] }> {
    const rows = await this.sql<
      Array<{
        horizon: string
        id: bigint | null
        txid: string
        schema_name: string
        table_name: string
        type: CapturedChange['type']
        message: CapturedChange['message']
        commit_timestamp: Date
      }>
    >`
      select h.horizon::text as horizon, c.*
      from (select pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()) as horizon) h
      left join lateral (
        select id, txid::text as txid, schema_name, table_name, type, commit_timestamp,
          case when type = 'BROADCAST' then record end as message
        from realtime_local.changes
        where txid >= ${low}::xid8 and id <> all(${delivered}::bigint[])
        order by id limit ${limit}
      ) c on true
      order by c.id`
    return {
      horizon: rows[0].horizon,
      changes: rows
        .filter((row) => row.id !== null)
        .map((row) => ({
          id: Number(row.id),
          txid: row.txid,
          schema: row.schema_name,
          table: row.table_name,
          type: row.type,
          message: row.message,
          commitTimestamp: row.commit_timestamp,
        })),
    }
  }

  /**
   * Calls `onCommit` whenever a transaction that captured something commits (the capture triggers
   * notify `realtime_local`), over a connection of its own; resolves once it listens.
   */
  async listen(onCommit: () => void): Promise<void> {
    await this.sql.listen('realtime_local', () => onCommit())
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
