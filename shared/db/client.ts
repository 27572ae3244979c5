import postgres from 'postgres'
import { loadConfig } from '../config.ts'

/**
 * timestamptz as ISO 8601 UTC text with all of Postgres's microseconds: a JS Date keeps only
 * milliseconds, which would make keyset cursors skip or repeat rows. Postgres prints
 * '2024-05-01 10:20:30.123456+00' in a UTC session (Supabase's default); other zones go through Date.
 */
export function isoTimestamp(text: string): string {
  const utc = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)\+00$/.exec(text)
  if (utc) return `${utc[1]}T${utc[2]}Z`
  const date = new Date(text)
  return Number.isNaN(date.getTime()) ? text : date.toISOString()
}

const passDateParam = (value: Date | string) => (value instanceof Date ? value.toISOString() : value)

/** Dates and times reach JSON as Postgres wrote them (date stays 'YYYY-MM-DD'), not as JS Dates. */
const types = {
  date: { to: 1082, from: [1082], serialize: passDateParam, parse: (text: string) => text },
  timestamp: {
    to: 1114,
    from: [1114],
    serialize: passDateParam,
    parse: (text: string) => text.replace(' ', 'T'),
  },
  timestamptz: { to: 1184, from: [1184], serialize: passDateParam, parse: isoTimestamp },
}

let client: { url: string; sql: postgres.Sql } | undefined

/** Supabase's transaction pooler (port 6543) cannot keep prepared statements between transactions. */
function isTransactionPooler(url: string): boolean {
  try {
    return new URL(url).port === '6543'
  } catch {
    return false
  }
}

/** The function's one connection pool, created on first use from `SUPABASE_DB_URL`. */
export function getSql(): postgres.Sql {
  const url = loadConfig().dbUrl
  if (!url) throw new Error('SUPABASE_DB_URL is not set: the function cannot reach its database')
  if (client?.url !== url) {
    void client?.sql.end()
    client = {
      url,
      sql: postgres(url, {
        // An edge function serves a few requests at a time; more connections only crowd the database.
        max: 5,
        prepare: !isTransactionPooler(url),
        idle_timeout: 20,
        connect_timeout: 10,
        onnotice: () => {},
        types,
        // postgres.js throws on an undefined parameter while building the query; pipelined behind
        // another query in flight (as withUser does) that throw desynchronizes the connection.
        // So undefined is sent as NULL: leave out the columns you do not mean to set.
        transform: { undefined: null },
      }) as unknown as postgres.Sql,
    }
  }
  return client.sql
}

/** Closes the pool (tests, shutdown); the next `getSql()` opens a new one. */
export async function closeSql(): Promise<void> {
  const closing = client
  client = undefined
  await closing?.sql.end({ timeout: 5 })
}
