import { parentPort, workerData } from 'node:worker_threads'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto'
import { uuid_ossp } from '@electric-sql/pglite/contrib/uuid_ossp'
import { pgtap } from '@electric-sql/pglite-pgtap'
import { vector } from '@electric-sql/pglite-pgvector'
import {
  bootstrapSql,
  DATABASE,
  SUPERUSER,
  type WorkerData,
  type WorkerReply,
  type WorkerRequest,
} from './database.ts'
import { PgServer } from './pg-server.ts'

// PGlite and its wire server, on a thread of their own (docs/adr/0034-database-worker-thread.md):
// every query runs here, so the gateway, Auth and Realtime on the main thread never lengthen a
// transaction, nor a transaction their work. The main thread only starts, stops and hears hints.

/**
 * Extensions a non-superuser may create, as supautils.privileged_extensions lets postgres on
 * hosted Supabase. PostgreSQL's own way to say so is `trusted = true` in the control file, which
 * pgcrypto and uuid-ossp have already.
 */
const TRUSTED_EXTENSIONS = ['vector', 'pgtap']

/** Lets non-superusers create the extensions hosted Supabase lets postgres create. */
function trustExtensions(db: PGlite): void {
  const { FS } = db.Module
  for (const name of TRUSTED_EXTENSIONS) {
    const file = `/pglite/share/postgresql/extension/${name}.control`
    const control = FS.readFile(file, { encoding: 'utf8' })
    if (!/^\s*trusted\s*=/m.test(control)) FS.writeFile(file, `${control}trusted = true\n`)
  }
}

const OLD_LAYOUT =
  'was made by an earlier version of the local stack, whose postgres role was a superuser. ' +
  'Start with --reset to make it afresh (its data, and the seed, are loaded again from the migrations).'

async function openPglite(dataDir: string | undefined): Promise<PGlite> {
  let db: PGlite
  try {
    db = await PGlite.create({
      dataDir,
      // A new database is made with supabase_admin as its bootstrap superuser, as on hosted.
      username: SUPERUSER,
      initDbStartParams: [`--username=${SUPERUSER}`],
      extensions: { vector, pgtap, pgcrypto, uuid_ossp },
    })
  } catch (error) {
    if (dataDir && /role "supabase_admin" does not exist/.test((error as Error).message)) {
      throw new Error(`The database directory ${dataDir} ${OLD_LAYOUT}`)
    }
    throw error
  }
  const [bootstrap] = (await db.query<{ rolname: string }>('select rolname from pg_roles where oid = 10'))
    .rows
  if (bootstrap?.rolname !== SUPERUSER) {
    await db.close()
    throw new Error(`The database directory ${dataDir} ${OLD_LAYOUT}`)
  }
  return db
}

interface Started {
  db: PGlite
  server: PgServer
  port: number
  version: string
}

async function start({ dataDir, host, port, reset }: WorkerData): Promise<Started> {
  if (dataDir && reset) rmSync(dataDir, { recursive: true, force: true })
  if (dataDir && !existsSync(dataDir)) mkdirSync(dirname(dataDir), { recursive: true })
  const db = await openPglite(dataDir)
  try {
    trustExtensions(db)
    await db.exec(bootstrapSql())
    // pgTAP for `npm run test:db`; the one extension the bootstrap creates that hosted does not have.
    await db.exec('create extension if not exists pgtap with schema extensions')
    const [{ version }] = (
      await db.query<{ version: string }>(`select current_setting('server_version') as version`)
    ).rows
    const server = new PgServer({ db, host, port, superuser: SUPERUSER, database: DATABASE })
    return { db, server, port: await server.start(), version }
  } catch (error) {
    await db.close().catch(() => {})
    throw error
  }
}

const port = parentPort
if (!port) throw new Error('scripts/stack/database-worker.ts runs as a worker thread (see database.ts)')
const reply = (message: WorkerReply) => port.postMessage(message)

try {
  const data = workerData as WorkerData
  const turnPending = new Int32Array(data.turnPending)
  const { db, server, port: bound, version } = await start(data)
  let stopHints: (() => void) | undefined
  port.on('message', async (message: WorkerRequest) => {
    if (message.type === 'hints') {
      stopHints?.()
      // One message at a time: a turn that ends while one is on its way is told by it.
      const onTurnEnd = () => {
        if (Atomics.exchange(turnPending, 0, 1) === 0) reply({ type: 'turn' })
      }
      stopHints = message.on ? server.onTurnEnd(onTurnEnd) : undefined
    } else if (message.type === 'stop') {
      stopHints?.()
      try {
        await server.stop()
        await db.close()
        reply({ type: 'stopped' })
      } catch (error) {
        reply({ type: 'stopped', error: (error as Error).message })
      }
      port.close()
    }
  })
  reply({ type: 'ready', port: bound, version })
} catch (error) {
  reply({ type: 'failed', message: (error as Error).message })
  port.close()
}
