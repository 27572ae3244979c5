import { createConnection, createServer, type Server } from 'node:net'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { setConfigForTests } from '../../shared/config.ts'
import { closeSql } from '../../shared/db/client.ts'
import { withUser, withUserStatement } from '../../shared/db/with-user.ts'
import { stack } from '../helpers/stack.ts'

// A TCP relay in front of the database counts the client's writes: a client that waits for an
// answer before sending more must write again, so writes bound the round trips from above.
let relay: Server
let writes = 0

beforeAll(async () => {
  const database = new URL(stack.dbUrl)
  relay = createServer((client) => {
    const upstream = createConnection(Number(database.port), database.hostname)
    client.on('data', (chunk) => {
      writes++
      upstream.write(chunk)
    })
    upstream.pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
  const viaRelay = new URL(stack.dbUrl)
  viaRelay.port = String((relay.address() as { port: number }).port)
  setConfigForTests({ dbUrl: viaRelay.toString() })
})

afterAll(async () => {
  await closeSql()
  setConfigForTests(undefined)
  await new Promise((resolve) => relay.close(resolve))
})

it('sends BEGIN, the user settings and the first query together: two round trips for one query', async () => {
  const claims = { sub: crypto.randomUUID(), role: 'authenticated', aud: 'authenticated' }
  const run = () => withUser(claims, (tx) => tx`select auth.uid() as uid`)
  await run() // connects and prepares the statements once per connection
  writes = 0
  const [row] = await run()
  expect(row.uid).toBe(claims.sub)
  expect(writes).toBe(2)
})

it('sends BEGIN, the settings, a one-statement verb’s statement and COMMIT together: one round trip', async () => {
  const claims = { sub: crypto.randomUUID(), role: 'authenticated', aud: 'authenticated' }
  const run = () => withUserStatement(claims, (tx) => tx`select auth.uid() as uid`)
  await run()
  writes = 0
  const [row] = await run()
  expect(row.uid).toBe(claims.sub)
  expect(writes).toBe(1)
})
