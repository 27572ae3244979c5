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
import { PGlite } from '@electric-sql/pglite'
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto'
import { uuid_ossp } from '@electric-sql/pglite/contrib/uuid_ossp'
import { pgtap } from '@electric-sql/pglite-pgtap'
import { vector } from '@electric-sql/pglite-pgvector'
import { PgServer } from './pg-server.ts'

const SQL_DIR = join(dirname(fileURLToPath(import.meta.url)), 'sql')

/**
 * Every connection shares PGlite's one session; when a client that changed session settings (the
 * Supabase CLI sets search_path, for one) disconnects, the session returns to these.
 */
const SESSION_DEFAULTS = `
  reset role;
  select set_config('search_path', '"$user", public, extensions', false),
         set_config('pgrst.db_schemas', 'public', false);
`

export interface DatabaseOptions {
  /** Where PGlite keeps its files; `undefined` keeps the database in memory. */
  dataDir?: string
  host?: string
  port: number
  /** Delete the data directory first. */
  reset?: boolean
}

export interface Database {
  /** postgres://postgres:postgres@host:port/postgres */
  url: string
  port: number
  server: PgServer
  stop(): Promise<void>
}

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

export async function startDatabase(options: DatabaseOptions): Promise<Database> {
  const host = options.host ?? '127.0.0.1'
  const { dataDir } = options
  const unlock = dataDir ? lockDataDir(dataDir) : () => {}
  let db: PGlite | undefined
  try {
    if (dataDir && options.reset) rmSync(dataDir, { recursive: true, force: true })
    if (dataDir && !existsSync(dataDir)) mkdirSync(dirname(dataDir), { recursive: true })
    db = await PGlite.create({
      dataDir,
      extensions: { vector, pgtap, pgcrypto, uuid_ossp },
    })
    await db.exec(bootstrapSql())
    await db.exec('create extension if not exists pgtap with schema extensions')
    await db.exec(SESSION_DEFAULTS)
    const server = new PgServer({ db, host, port: options.port, sessionReset: SESSION_DEFAULTS })
    const port = await server.start()
    const opened = db
    return {
      url: `postgresql://postgres:postgres@${host}:${port}/postgres`,
      port,
      server,
      async stop() {
        await server.stop()
        await opened.close()
        unlock()
      },
    }
  } catch (error) {
    await db?.close().catch(() => {})
    unlock()
    throw error
  }
}
