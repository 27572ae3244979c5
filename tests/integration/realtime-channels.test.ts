import type { SupabaseClient } from '@supabase/supabase-js'
import { afterAll, expect, it } from 'vitest'
import { realtimeClient, subscribed } from '../helpers/realtime-client.ts'
import { type ServedRealtime, serveRealtime } from '../helpers/realtime-server.ts'
import { createUser } from '../helpers/stack.ts'

// The stack asks the embedded database for turn hints only while Realtime has a channel joined
// (a hint is a message between threads that every request would pay for, ADR 0037): Realtime
// says when its first channel joins and when its last one leaves.

const clients: SupabaseClient[] = []
let served: ServedRealtime | undefined
afterAll(async () => {
  for (const client of clients) await client.removeAllChannels()
  await served?.close()
})

/** Resolves once `seen` holds `length` entries (Realtime handles a leave after it answers it). */
async function until(seen: boolean[], length: number): Promise<void> {
  const deadline = Date.now() + 5_000
  while (seen.length < length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
}

it('says when its first channel joins and when its last one leaves, once each', async () => {
  const seen: boolean[] = []
  served = await serveRealtime({}, { onChannels: (any) => seen.push(any) })
  const user = await createUser('channels')
  const client = await realtimeClient(served.url, user.token)
  clients.push(client)
  expect(seen).toEqual([])

  const first = client.channel(`first-${crypto.randomUUID()}`)
  await subscribed(first)
  await until(seen, 1)
  expect(seen).toEqual([true])
  // A second channel and the first one's leaving change nothing: one is still joined.
  const second = client.channel(`second-${crypto.randomUUID()}`)
  await subscribed(second)
  await client.removeChannel(first)
  await new Promise((resolve) => setTimeout(resolve, 100))
  expect(seen).toEqual([true])

  await client.removeChannel(second)
  await until(seen, 2)
  expect(seen).toEqual([true, false])
})
