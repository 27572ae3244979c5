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

/** The bootstrap superuser PGlite's session is opened as; clients log in as hosted's roles. */
export const SUPERUSER = 'supabase_admin'
/** The password `supabase start` gives every login role; the stack sets it on roles that have none. */
const PASSWORD = 'postgres'
const DATABASE = 'postgres'

/**
 * Extensions a non-superuser may create, as supautils.privileged_extensions lets postgres on
 * hosted Supabase. PostgreSQL's own way to say so is `trusted = true` in the control file, which
 * pgcrypto and uuid-ossp have already.
 */
const TRUSTED_EXTENSIONS = ['vector', 'pgtap']

export interface DatabaseOptions {
  /** Where PGlite keeps its files; `undefined` keeps the database in memory. */
  dataDir?: string
  host?: string
  port: number
  /** Delete the data directory first. */
  reset?: boolean
}

export interface Database {
  /** postgresql://postgres:postgres@host:port/postgres: hosted Supabase's `postgres`, not a superuser. */
  url: string
  port: number
  /** The same server logged in as another role (supabase_admin, supabase_auth_admin, …). */
  urlFor(role: string): string
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

export async function startDatabase(options: DatabaseOptions): Promise<Database> {
  const host = options.host ?? '127.0.0.1'
  const { dataDir } = options
  const unlock = dataDir ? lockDataDir(dataDir) : () => {}
  let db: PGlite | undefined
  try {
    if (dataDir && options.reset) rmSync(dataDir, { recursive: true, force: true })
    if (dataDir && !existsSync(dataDir)) mkdirSync(dirname(dataDir), { recursive: true })
    db = await openPglite(dataDir)
    trustExtensions(db)
    await db.exec(bootstrapSql())
    // pgTAP for `npm run test:db`; the one extension the bootstrap creates that hosted does not have.
    await db.exec('create extension if not exists pgtap with schema extensions')
    const server = new PgServer({ db, host, port: options.port, superuser: SUPERUSER, database: DATABASE })
    const port = await server.start()
    const opened = db
    const urlFor = (role: string) =>
      `postgresql://${encodeURIComponent(role)}:${PASSWORD}@${host}:${port}/${DATABASE}`
    return {
      url: urlFor('postgres'),
      port,
      urlFor,
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
