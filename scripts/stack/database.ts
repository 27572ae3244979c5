import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'

const HERE = dirname(fileURLToPath(import.meta.url))
const SQL_DIR = join(HERE, 'sql')
const WORKER = join(HERE, 'database-worker.mjs')

/** The bootstrap superuser PGlite's session is opened as; clients log in as hosted's roles. */
export const SUPERUSER = 'supabase_admin'
/** The password `supabase start` gives every login role; the stack sets it on roles that have none. */
export const PASSWORD = 'postgres'
/** The embedded database's one database. */
export const DATABASE = 'postgres'

export interface DatabaseOptions {
  /** Where PGlite keeps its files; `undefined` keeps the database in memory. */
  dataDir?: string
  host?: string
  port: number
  /** Delete the data directory first. */
  reset?: boolean
  /** Where a failure of the database's thread after it started is reported; stderr by default. */
  log?: (line: string) => void
}

/** The stack's database: the embedded one (PGlite, scripts/stack/database-worker.ts) or an existing server (external.ts). */
export interface Database {
  /** Hosted Supabase's `postgres`, not a superuser: what migrations, the seed, tests and functions log in as. */
  url: string
  /** The same database logged in as another role (supabase_auth_admin, …). */
  urlFor(role: string): string
  /** A superuser (the local Realtime server logs in as one, as hosted Realtime does). */
  superuserUrl: string
  embedded: boolean
  /** e.g. "PostgreSQL 18.3 (PGlite)" or "PostgreSQL 15.20". */
  version: string
  /** Nothing was migrated here before: the seed runs once the migrations have. */
  fresh: boolean
  /**
   * The embedded database only: calls `listener` after a client's turn on its one session ends,
   * i.e. when a transaction may have committed (the local Realtime server reads its change outbox
   * then); turns that end close together may share one call. Returns the unsubscriber.
   */
  onTurnEnd?(listener: () => void): () => void
  stop(): Promise<void>
}

/** What the main thread hands the database's worker thread. */
export interface WorkerData {
  dataDir: string | undefined
  host: string
  port: number
  reset: boolean
  /**
   * One Int32 shared by both threads: 1 while a `turn` message is on its way to the main thread.
   * Turns that end meanwhile ride on it (its listeners run after them), so a busy main thread
   * gets one message for many turns rather than one each.
   */
  turnPending: SharedArrayBuffer
}
export type WorkerRequest = { type: 'hints'; on: boolean } | { type: 'stop' }
export type WorkerReply =
  | { type: 'ready'; port: number; version: string }
  | { type: 'failed'; message: string }
  | { type: 'turn' }
  | { type: 'stopped'; error?: string }

export class DataDirLockedError extends Error {}

/**
 * Two processes writing one PGlite data directory corrupt it silently, so the directory is locked
 * by a file beside it that names the owning process; a lock whose process is gone is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lockFile = `${dataDir}.lock`
  mkdirSync(dirname(lockFile), { recursive: true })
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx')
      writeFileSync(fd, String(process.pid))
      closeSync(fd)
      return () => rmSync(lockFile, { force: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const pid = Number(readFileSync(lockFile, 'utf8'))
      if (pid && isAlive(pid)) {
        throw new DataDirLockedError(
          `The database directory ${dataDir} is in use by process ${pid}. Stop that process first, ` +
            'or pass another --data-dir.',
        )
      }
      rmSync(lockFile, { force: true })
    }
  }
  throw new DataDirLockedError(`Could not lock ${dataDir}`)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The objects hosted Supabase has before the first migration (roles, auth, realtime, extensions). */
export function bootstrapSql(): string {
  return readdirSync(SQL_DIR)
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((name) => readFileSync(join(SQL_DIR, name), 'utf8'))
    .join('\n')
}

/**
 * Starts the embedded database: PGlite and its wire server (pg-server.ts) on a worker thread,
 * bootstrapped as hosted Supabase is (scripts/stack/sql) and listening on `host:port`.
 */
export async function startDatabase(options: DatabaseOptions): Promise<Database> {
  const host = options.host ?? '127.0.0.1'
  const { dataDir } = options
  const log = options.log ?? ((line: string) => console.error(`[database] ${line}`))
  const fresh = !dataDir || Boolean(options.reset) || !existsSync(dataDir)
  const unlock = dataDir ? lockDataDir(dataDir) : () => {}
  const turnPending = new Int32Array(new SharedArrayBuffer(4))
  const data: WorkerData = {
    dataDir,
    host,
    port: options.port,
    reset: Boolean(options.reset),
    turnPending: turnPending.buffer as SharedArrayBuffer,
  }
  const worker = new Worker(WORKER, { workerData: data })
  const listeners = new Set<() => void>()
  let stopping = false
  let exited = false
  let onStopped: ((reply: Extract<WorkerReply, { type: 'stopped' }>) => void) | undefined
  let started: { port: number; version: string }
  try {
    started = await new Promise((resolve, reject) => {
      worker.on('message', (message: WorkerReply) => {
        if (message.type === 'ready') resolve(message)
        else if (message.type === 'failed') reject(new Error(message.message))
        else if (message.type === 'turn') {
          // Cleared first: a turn that ends from now on sends a message of its own.
          Atomics.store(turnPending, 0, 0)
          for (const listener of listeners) listener()
        } else if (message.type === 'stopped') onStopped?.(message)
      })
      worker.on('error', (error) => {
        reject(error)
        if (!stopping) log(`the embedded database stopped: ${error.stack ?? error.message}`)
      })
      worker.on('exit', (code) => {
        exited = true
        reject(new Error(`the embedded database's thread exited (code ${code}) before it started`))
        onStopped?.({ type: 'stopped' })
      })
    })
  } catch (error) {
    await worker.terminate().catch(() => {})
    unlock()
    throw error
  }
  const urlFor = (role: string) =>
    `postgresql://${encodeURIComponent(role)}:${PASSWORD}@${host}:${started.port}/${DATABASE}`
  return {
    url: urlFor('postgres'),
    urlFor,
    superuserUrl: urlFor(SUPERUSER),
    embedded: true,
    version: `PostgreSQL ${started.version} (PGlite)`,
    fresh,
    onTurnEnd(listener) {
      listeners.add(listener)
      if (listeners.size === 1) worker.postMessage({ type: 'hints', on: true } satisfies WorkerRequest)
      return () => {
        if (listeners.delete(listener) && listeners.size === 0 && !stopping) {
          worker.postMessage({ type: 'hints', on: false } satisfies WorkerRequest)
        }
      }
    },
    async stop() {
      if (stopping) return
      stopping = true
      const reply = await new Promise<Extract<WorkerReply, { type: 'stopped' }>>((resolve) => {
        if (exited) return resolve({ type: 'stopped' })
        onStopped = resolve
        worker.postMessage({ type: 'stop' } satisfies WorkerRequest)
      })
      await worker.terminate()
      unlock()
      if (reply.error) throw new Error(`closing the embedded database: ${reply.error}`)
    },
  }
}
