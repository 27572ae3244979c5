import postgres from 'postgres'
import { bootstrapSql, type Database, PASSWORD, SUPERUSER } from './database.ts'

// The stack on an existing PostgreSQL (`--db-url`, docs/adr/0033-existing-postgres.md): the
// server is bootstrapped as hosted Supabase's is (the same scripts/stack/sql as the embedded
// database, run by a superuser, idempotent), and the stack logs in as hosted's roles.

/** Why a server cannot take the stack, said in words a developer can act on. */
export class DatabaseSetupError extends Error {}

const MIN_VERSION_NUM = 150000
/** public.match_document_chunks sets hnsw.iterative_scan, which pgvector has from 0.8.0. */
const MIN_VECTOR = [0, 8, 0]

interface ServerInfo {
  user: string
  superuser: boolean
  version_num: number
  version: string
  database: string
  bootstrap: string
  vector: string | null
  vector_trusted: boolean | null
  pgtap: boolean
}

const SERVER_INFO = `
  select current_user::text as user, current_setting('is_superuser') = 'on' as superuser,
         current_setting('server_version_num')::int as version_num,
         current_setting('server_version') as version, current_database()::text as database,
         (select rolname::text from pg_catalog.pg_roles where oid = 10) as bootstrap,
         (select default_version from pg_catalog.pg_available_extensions where name = 'vector') as vector,
         (select v.trusted from pg_catalog.pg_available_extensions e
          join pg_catalog.pg_available_extension_versions v on v.name = e.name and v.version = e.default_version
          where e.name = 'vector') as vector_trusted,
         exists (select from pg_catalog.pg_available_extensions where name = 'pgtap') as pgtap`

function versionAtLeast(version: string, minimum: number[]): boolean {
  const parts = version.split('.').map((part) => Number.parseInt(part, 10) || 0)
  for (let i = 0; i < minimum.length; i++) {
    if ((parts[i] ?? 0) !== minimum[i]) return (parts[i] ?? 0) > minimum[i]
  }
  return true
}

/** What makes this server unfit, or null. */
function unfit(info: ServerInfo, url: URL): string | null {
  if (!info.superuser) {
    return (
      `${url.username || info.user} is not a superuser. --db-url must name one (e.g. supabase_admin): the stack ` +
      'creates the roles, schemas and event triggers hosted Supabase has before any migration.'
    )
  }
  if (info.version_num < MIN_VERSION_NUM) {
    return `the server runs PostgreSQL ${info.version}; the stack needs 15 or newer, as hosted Supabase runs.`
  }
  if (info.bootstrap === 'postgres' || info.user === 'postgres') {
    return (
      'on this server postgres is a superuser' +
      (info.bootstrap === 'postgres' ? ' (its bootstrap superuser, which cannot stop being one)' : '') +
      ', but on hosted Supabase, and in this stack, postgres is not one. Use a cluster whose ' +
      'superuser has another name, e.g. `initdb -U supabase_admin`, and log in as that (README: ' +
      '"A PostgreSQL of your own").'
    )
  }
  if (!info.vector || !versionAtLeast(info.vector, MIN_VECTOR)) {
    return (
      `pgvector ${info.vector ? `${info.vector} is too old` : 'is not installed'}: the migrations need 0.8.0 or ` +
      'newer (hnsw.iterative_scan). Build it from source for this server (README: "A PostgreSQL of your own").'
    )
  }
  return null
}

function withCredentials(url: URL, user: string, password: string): string {
  const copy = new URL(url)
  copy.username = encodeURIComponent(user)
  copy.password = encodeURIComponent(password)
  return copy.toString()
}

/** Refuses with a clear message if `role` cannot log in with `url`. */
async function checkLogin(url: string, role: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 })
  try {
    await sql`select 1`
  } catch (error) {
    throw new DatabaseSetupError(
      `The stack could not log in as ${role}: ${(error as Error).message}. It gives every login role the ` +
        `password "${PASSWORD}" (as supabase start does) when it has none; a role whose password was set ` +
        `otherwise needs \`alter role ${role} password '${PASSWORD}'\`, and pg_hba.conf must let it in ` +
        'with a password over TCP.',
    )
  } finally {
    await sql.end({ timeout: 1 })
  }
}

/**
 * Opens the database at `adminUrl` (a superuser's URL; any database name) for the stack: checks
 * the server (15 or newer, pgvector 0.8 or newer, postgres not its bootstrap superuser), then
 * bootstraps what hosted Supabase has before the first migration where it is missing. Safe to run
 * on every start and from two processes at once (an advisory lock orders them).
 */
export async function connectDatabase(adminUrl: string): Promise<Database> {
  let url: URL
  try {
    url = new URL(adminUrl)
  } catch {
    throw new DatabaseSetupError(
      `--db-url must be a postgres URL (postgresql://user:password@host:port/database)`,
    )
  }
  if (!/^postgres(ql)?:$/.test(url.protocol)) {
    throw new DatabaseSetupError(`--db-url must be a postgresql:// URL, not ${url.protocol}//…`)
  }
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 })
  let info: ServerInfo
  let fresh: boolean
  try {
    try {
      ;[info] = await admin.unsafe<[ServerInfo]>(SERVER_INFO)
    } catch (error) {
      throw new DatabaseSetupError(`Could not connect to ${url.host}: ${(error as Error).message}`)
    }
    const problem = unfit(info, url)
    if (problem) throw new DatabaseSetupError(`The database at --db-url cannot take the stack: ${problem}`)
    fresh = await admin.begin(async (tx) => {
      // Two stacks starting at once on one server would otherwise race on the same definitions.
      await tx`select pg_advisory_xact_lock(hashtext('consilium: bootstrap'))`
      const [{ migrated }] = await tx<[{ migrated: boolean }]>`
        select to_regclass('supabase_migrations.schema_migrations') is not null as migrated`
      const [{ applied }] = migrated
        ? await tx.unsafe<[{ applied: boolean }]>(
            'select exists (select from supabase_migrations.schema_migrations) as applied',
          )
        : [{ applied: false }]
      // Hosted's superuser, which the local Realtime server logs in as.
      await tx.unsafe(`
        do $$
        begin
          if not exists (select from pg_catalog.pg_roles where rolname = '${SUPERUSER}') then
            create role ${SUPERUSER} login superuser password '${PASSWORD}';
          end if;
        end
        $$`)
      await tx.unsafe(bootstrapSql())
      // Hosted Supabase's servers run in UTC, as the embedded database does; a server set up on a
      // laptop has the laptop's zone, in which timestamps would print with another offset.
      await tx.unsafe(`
        do $$
        begin
          execute format('alter database %I set timezone to %L', current_database(), 'UTC');
        end
        $$`)
      // PostgreSQL lets a non-superuser create an extension whose control file says `trusted`;
      // hosted's supautils lets postgres create pgvector anyway. Where it is not trusted (as built
      // from source), it is created here, and the migrations' `create extension if not exists`
      // finds it.
      if (!info.vector_trusted)
        await tx.unsafe('create extension if not exists vector with schema extensions')
      // For pgTAP (npm run test:db), as the embedded database has it; Debian's postgresql-15-pgtap.
      if (info.pgtap) await tx.unsafe('create extension if not exists pgtap with schema extensions')
      return !applied
    })
  } finally {
    await admin.end({ timeout: 5 })
  }
  const urlFor = (role: string) =>
    role === decodeURIComponent(url.username) ? adminUrl : withCredentials(url, role, PASSWORD)
  const database: Database = {
    url: urlFor('postgres'),
    urlFor,
    superuserUrl: urlFor(SUPERUSER),
    embedded: false,
    version: `PostgreSQL ${info.version}`,
    fresh,
    async stop() {},
  }
  await checkLogin(database.url, 'postgres')
  await checkLogin(database.urlFor('supabase_auth_admin'), 'supabase_auth_admin')
  await checkLogin(database.superuserUrl, SUPERUSER)
  return database
}
