import type { Server } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { FunctionWorker } from '../../scripts/stack/functions/runner.ts'
import { createGateway, type GatewayLimits, listen } from '../../scripts/stack/gateway.ts'
import { loadKeys } from '../../scripts/stack/keys.ts'

export const CLOSER_ENTRYPOINT = join(import.meta.dirname, 'fixtures', 'gateway-closer.ts')

/**
 * A gateway of the test's own, in this process (so a test can hold its event loop), in front of a
 * real Deno worker running the `closer` fixture function; both stopped after the file's tests.
 */
export function closerGateways() {
  const closer = new FunctionWorker(
    { name: 'closer', entrypoint: CLOSER_ENTRYPOINT, verifyJwt: false },
    { env: {}, log: () => {} },
  )
  const logs: string[] = []
  const servers: Server[] = []
  beforeAll(async () => {
    await closer.whenReady()
  })
  afterAll(async () => {
    for (const server of servers) {
      server.closeAllConnections()
      server.close()
    }
    await closer.stop()
  })

  /** Starts a gateway (with these limits) whose one function is `closer`; its port. */
  async function startGateway(
    limits: Partial<GatewayLimits> = {},
    functions = new Map([['closer', closer]]),
  ): Promise<number> {
    const gateway = createGateway({
      host: '127.0.0.1',
      port: 0,
      keys: await loadKeys(),
      functions,
      limits,
      log: (name, line) => logs.push(`[${name}] ${line}`),
    })
    servers.push(gateway)
    return listen(gateway, 0, '127.0.0.1', 'test gateway')
  }

  /** The fixture's own record, read from the worker directly. */
  async function state(): Promise<{ closedAt: number; abandoned: number }> {
    return (await fetch(`http://127.0.0.1:${closer.port}/closer/state`)).json()
  }

  return { closer, logs, startGateway, state }
}
