import {
  createClient,
  type RealtimeChannel,
  type REALTIME_SUBSCRIBE_STATES,
  type SupabaseClient,
} from '@supabase/supabase-js'
import type postgres from 'postgres'
import WebSocket from 'ws'
import { stack } from './stack.ts'

/** How long a test waits for something the server should send before calling it missing. */
export const EVENT_TIMEOUT_MS = 10_000

const tokens = new WeakMap<SupabaseClient, { token: string | null }>()

/**
 * The real supabase-js client as an app on Node 20 makes it (a WebSocket transport from `ws`). Its
 * Realtime token comes from an `accessToken` callback, as with third-party auth: supabase-js asks
 * that callback again on every join, heartbeat and reconnect, so a token set only with
 * `realtime.setAuth` would soon be replaced by the anon key.
 */
export async function realtimeClient(url: string, token?: string): Promise<SupabaseClient> {
  const holder = { token: token ?? null }
  const client = createClient(url, stack.anonKey, {
    accessToken: async () => holder.token,
    realtime: { transport: WebSocket as never, reconnectAfterMs: () => 100 },
  })
  tokens.set(client, holder)
  if (token) await client.realtime.setAuth(token)
  return client
}

/** What an app does when its session is refreshed: the new token goes to every joined channel. */
export async function switchToken(client: SupabaseClient, token: string): Promise<void> {
  const holder = tokens.get(client)
  if (!holder) throw new Error('not a client made by realtimeClient')
  holder.token = token
  await client.realtime.setAuth(token)
}

export type Status = `${REALTIME_SUBSCRIBE_STATES}`

/** Something that fills up over time, with a way to wait (at most EVENT_TIMEOUT_MS) for what is wanted. */
export class Waitable {
  private readonly waiters = new Set<() => void>()

  protected notify(): void {
    for (const wake of [...this.waiters]) wake()
  }

  /** Resolves with `probe()` once it is defined, checking again after every change. */
  protected waitFor<T>(probe: () => T | undefined, describe: () => string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const found = probe()
        if (found === undefined) return
        clearTimeout(timer)
        this.waiters.delete(check)
        resolve(found)
      }
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`timed out after ${EVENT_TIMEOUT_MS} ms waiting for ${describe()}`))
      }, EVENT_TIMEOUT_MS)
      this.waiters.add(check)
      check()
    })
  }
}

/** Every status a channel reports, in order. */
export class StatusLog extends Waitable {
  readonly seen: Array<{ status: Status; error?: Error }> = []

  readonly callback = (status: Status, error?: Error) => {
    this.seen.push({ status, error })
    this.notify()
  }

  /** Resolves with the `n`th (1-based) report of `status`, or of any status when none is given. */
  next(status?: Status, n = 1): Promise<{ status: Status; error?: Error }> {
    return this.waitFor(
      () => this.seen.filter((s) => !status || s.status === status)[n - 1],
      () =>
        `channel status ${status ?? 'report'} #${n} (saw ${this.seen.map((s) => s.status).join(', ') || 'nothing'})`,
    )
  }
}

/** Subscribes and resolves once the server accepted the join; throws with the refusal otherwise. */
export async function subscribed(channel: RealtimeChannel): Promise<StatusLog> {
  const log = new StatusLog()
  channel.subscribe(log.callback)
  const first = await log.next()
  if (first.status !== 'SUBSCRIBED') {
    throw new Error(`${channel.topic}: ${first.status} ${first.error?.message ?? ''}`.trim())
  }
  return log
}

/** Subscribes and resolves with the first status, whatever it is (for joins that must fail). */
export async function joinOutcome(channel: RealtimeChannel): Promise<{ status: Status; error?: Error }> {
  const log = new StatusLog()
  channel.subscribe(log.callback)
  return log.next()
}

/** Collects what a callback receives. */
export class Inbox<T> extends Waitable {
  readonly items: T[] = []

  readonly push = (item: T) => {
    this.items.push(item)
    this.notify()
  }

  /** Waits for the first arrival that matches. */
  next(predicate: (item: T) => boolean = () => true, what = 'an event'): Promise<T> {
    return this.waitFor(
      () => this.items.find(predicate),
      () => `${what} (received ${this.items.length}: ${JSON.stringify(this.items).slice(0, 500)})`,
    )
  }

  /** Waits until at least `count` arrivals matched. */
  count(count: number, predicate: (item: T) => boolean = () => true, what = 'events'): Promise<T[]> {
    return this.waitFor(
      () => {
        const found = this.items.filter(predicate)
        return found.length >= count ? found : undefined
      },
      () => `${count} ${what} (received ${this.items.length})`,
    )
  }
}

/** A conversation owned by `userId`, made as the database superuser. */
export async function createConversation(sql: postgres.Sql, userId: string, title = 'chat'): Promise<string> {
  const [row] = await sql<[{ id: string }]>`
    insert into public.conversations (user_id, title) values (${userId}, ${title}) returning id`
  return row.id
}

export interface MessageRow {
  id: string
  user_id: string
  conversation_id: string
  role: string
  content: string
  agent_id: string | null
}

/**
 * Inserts a message with the user's role and claims, as the functions do: a user message under RLS,
 * as the chat function writes it; an assistant, system or tool message through
 * private.insert_message, as the agents write theirs.
 */
export async function insertMessageAs(
  sql: postgres.Sql,
  userId: string,
  conversationId: string,
  content: string,
  fields: { role?: string; agent_id?: string | null } = {},
): Promise<MessageRow> {
  const role = fields.role ?? 'user'
  return sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true),
      set_config('request.jwt.claims', ${JSON.stringify({ sub: userId, role: 'authenticated' })}, true)`
    const [row] =
      role === 'user'
        ? await tx<[MessageRow]>`
            insert into public.messages (user_id, conversation_id, role, content)
            values (${userId}, ${conversationId}, 'user', ${content})
            returning id, user_id, conversation_id, role::text, content, agent_id`
        : await tx<[MessageRow]>`
            select id, user_id, conversation_id, role::text, content, agent_id
            from private.insert_message(${conversationId}, ${role}::public.message_role, ${content},
                                        ${fields.agent_id ?? null})`
    return row
  }) as Promise<MessageRow>
}
