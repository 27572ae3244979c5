import type { SupabaseClient } from '@supabase/supabase-js'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createConversation,
  Inbox,
  insertMessageAs,
  realtimeClient,
  subscribed,
} from '../helpers/realtime-client.ts'
import { type ServedRealtime, serveRealtime } from '../helpers/realtime-server.ts'
import { adminSql, createUser, stack } from '../helpers/stack.ts'

// The local Realtime server on an existing PostgreSQL (`npm test -- --db-url …`, ADR 0033), where
// transactions overlap and there are no commit hints: commits reach it over LISTEN, and a change
// is read once every older transaction has ended, not by id alone. The embedded database's clients
// take turns on one session, so neither can happen there.

type Change = { eventType: string; new: { id?: string } }

const db = adminSql()
const clients: SupabaseClient[] = []
const servers: ServedRealtime[] = []
afterAll(async () => {
  for (const client of clients) await client.removeAllChannels()
  for (const server of servers) await server.close()
  await db.end()
})

/** A user with two conversations, whose client listens for inserts into their messages (RLS keeps them theirs). */
async function watch(url: string) {
  const user = await createUser('watcher')
  // Two conversations: a message bumps its conversation's row, which an open transaction would lock.
  const conversations = [await createConversation(db, user.id), await createConversation(db, user.id)]
  const client = await realtimeClient(url, user.token)
  clients.push(client)
  const inbox = new Inbox<Change>()
  await subscribed(
    client
      .channel(`messages-${crypto.randomUUID()}`)
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'messages' }, (change: Change) =>
        inbox.push(change),
      ),
  )
  return { user, conversations, inbox }
}

describe.skipIf(stack.embeddedDatabase)('Realtime on an existing PostgreSQL', () => {
  it('delivers a change whose transaction wrote first and committed last', async () => {
    const { user, conversations, inbox } = await watch(stack.apiUrl)
    // The first transaction takes the lower outbox id and stays open while the second commits.
    const first = await db.reserve()
    try {
      await first`begin`
      await first`select set_config('role', 'authenticated', true),
        set_config('request.jwt.claims', ${JSON.stringify({ sub: user.id, role: 'authenticated' })}, true)`
      const [early] = await first<[{ id: string }]>`
        insert into public.messages (user_id, conversation_id, role, content)
        values (${user.id}, ${conversations[0]}, 'user', 'written first') returning id`
      const late = await insertMessageAs(db, user.id, conversations[1], 'committed first')
      await inbox.next((c) => c.new.id === late.id, 'the message committed first')
      await first`commit`
      const received = await inbox.next((c) => c.new.id === early.id, 'the message written first')
      expect(received.eventType).toBe('INSERT')
    } finally {
      // A failure above leaves the transaction open: it must not go back to the pool.
      await first`rollback`.catch(() => {})
      first.release()
    }
  })

  it('hears of a commit over LISTEN: a change arrives though the server all but stopped polling', async () => {
    const never = { minIntervalMs: 600_000, maxIntervalMs: 600_000, idleIntervalMs: 600_000 }
    const served = await serveRealtime({}, { poll: never, listen: true })
    servers.push(served)
    const { user, conversations, inbox } = await watch(served.url)
    // The poll a join starts has run by now; the next is ten minutes away.
    await new Promise((resolve) => setTimeout(resolve, 500))
    const message = await insertMessageAs(db, user.id, conversations[0], 'notified')
    const received = await inbox.next((c) => c.new.id === message.id, 'the notified message')
    expect(received.eventType).toBe('INSERT')
  })
})
