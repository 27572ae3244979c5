import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import postgres from 'postgres'
import { type Database, startDatabase } from './database.ts'
import { readEnvFiles } from './env-files.ts'
import { connectDatabase } from './external.ts'
import { declaredFunctions, FunctionWorker } from './functions/runner.ts'
import { createGateway, type GatewayOptions, listen } from './gateway.ts'
import { loadKeys, type StackKeys } from './keys.ts'
import { PROJECT_ROOT } from '../paths.ts'
import { applyMigrations } from './migrate.ts'
import { projectConfig } from './project-config.ts'
import { createGoTrueService } from './gotrue/service.ts'
import { createRealtimeServer } from './realtime/server.ts'
import { schedulesCheckInterval, startSchedulesTimer } from './schedules-timer.ts'
import { startKnowledgeDrainTimer } from './knowledge-drain-timer.ts'

export interface StackOptions {
  host?: string
  /** The API gateway's port (54321 for `npm run dev`; 0 picks a free one). */
  port: number
  dbPort: number
  /**
   * An existing PostgreSQL (15 or newer, with pgvector 0.8), as a superuser, to run on instead of
   * the embedded database (docs/adr/0033-existing-postgres.md); `dbPort` and `reset` are then unused.
   */
  dbUrl?: string
  /** Where the database and signing key live; `undefined` keeps everything in memory. */
  dataDir?: string
  reset?: boolean
  /** Load supabase/seed.sql into a database that was just created. */
  seed?: boolean
  /** Restart functions when their code changes. */
  watch?: boolean
  log?: (name: string, line: string) => void
  /**
   * Pass the developer's env files (`.env`, `supabase/functions/.env`) to the functions, as
   * `supabase functions serve` does (default true). The test suite turns this off, so a key kept
   * in `.env` never makes a test call a paid provider.
   */
  envFiles?: boolean
  /**
   * How often to run the due check of schedules, as pg_cron does on hosted Supabase (ms; 0 or
   * undefined: never). SCHEDULES_CHECK_INTERVAL_MS in an env file wins over this.
   */
  schedulesCheckIntervalMs?: number
  /**
   * How often the periodic knowledge drain runs (ms; 0: never), as pg_cron runs it on hosted
   * Supabase. Default `KNOWLEDGE_DRAIN_INTERVAL_MS`, else 60 s. The test suite turns it off.
   */
  knowledgeDrainIntervalMs?: number
}

export interface Stack {
  apiUrl: string
  dbUrl: string
  /** The embedded database (PGlite), or an existing PostgreSQL (`dbUrl` in the options). */
  embeddedDatabase: boolean
  /** e.g. "PostgreSQL 18.3 (PGlite)". */
  databaseVersion: string
  keys: StackKeys
  functions: string[]
  stop(): Promise<void>
}

/** The environment hosted Supabase gives every edge function. */
export function functionEnv(
  apiUrl: string,
  dbUrl: string,
  keys: Pick<StackKeys, 'anonKey' | 'serviceRoleKey' | 'jwtSecret' | 'jwks'>,
): Record<string, string> {
  return {
    SUPABASE_URL: apiUrl,
    SUPABASE_ANON_KEY: keys.anonKey,
    SUPABASE_SERVICE_ROLE_KEY: keys.serviceRoleKey,
    SUPABASE_DB_URL: dbUrl,
    SUPABASE_JWKS: JSON.stringify(keys.jwks),
    SUPABASE_JWT_SECRET: keys.jwtSecret,
  }
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const host = options.host ?? '127.0.0.1'
  const log = options.log ?? ((name: string, line: string) => console.error(`[${name}] ${line}`))
  const cleanups: Array<() => Promise<void>> = []
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  }
  try {
    const database: Database = options.dbUrl
      ? await connectDatabase(options.dbUrl)
      : await startDatabase({
          dataDir: options.dataDir,
          host,
          port: options.dbPort,
          reset: options.reset,
          log: (line) => log('database', line),
        })
    cleanups.push(() => database.stop())
    // Migrations and seed run as postgres, as `supabase db push` and `supabase db reset` do on hosted.
    await applyMigrations(database.url)
    if (options.seed && database.fresh && existsSync(join(PROJECT_ROOT, 'supabase', 'seed.sql'))) {
      const seeder = postgres(database.url, { max: 1, onnotice: () => {} })
      await seeder
        .unsafe(readFileSync(join(PROJECT_ROOT, 'supabase', 'seed.sql'), 'utf8'))
        .finally(() => seeder.end())
    }
    // Auth and Realtime log in as the roles hosted Supabase's services use.
    const sql = postgres(database.urlFor('supabase_auth_admin'), { max: 4, onnotice: () => {} })
    cleanups.push(() => sql.end())

    const keys = await loadKeys(options.dataDir ? join(options.dataDir, '..', 'signing-key.json') : undefined)
    const gatewayOptions: GatewayOptions = {
      host,
      port: options.port,
      keys,
      functions: new Map(),
      log: options.log,
    }
    const gateway = createGateway(gatewayOptions)
    const apiPort = await listen(gateway, options.port, host, 'API gateway')
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          gateway.close(() => resolve())
          gateway.closeAllConnections()
        }),
    )
    const apiUrl = `http://${host}:${apiPort}`

    // The embedded database's clients share one session, so LISTEN would not reach the Realtime
    // server: it says instead when a client's turn ends, i.e. when a transaction may have committed.
    // Only while a channel is joined, as nobody hears of a change otherwise: a hint is a message
    // from the database's thread to this one, which every request would pay for (ADR 0037).
    let stopHints: (() => void) | undefined
    const realtime = await createRealtimeServer({
      dbUrl: database.superuserUrl,
      keys,
      log: (line) => log('realtime', line),
      // A PostgreSQL server tells the Realtime server of commits (NOTIFY from the capture triggers).
      listen: !database.embedded,
      onChannels: (any) => {
        if (any) stopHints ??= database.onTurnEnd?.(() => realtime.changesMayHaveCommitted())
        else {
          stopHints?.()
          stopHints = undefined
        }
      },
    })
    gatewayOptions.realtime = realtime
    cleanups.push(() => realtime.close())
    cleanups.push(async () => {
      stopHints?.()
      stopHints = undefined
    })

    const auth = projectConfig().auth ?? {}
    gatewayOptions.auth = createGoTrueService({
      sql,
      keys,
      issuer: `${apiUrl}/auth/v1`,
      jwtExpiry: auth.jwt_expiry,
      refreshTokenReuseInterval: auth.refresh_token_reuse_interval,
      passwordMinLength: auth.minimum_password_length,
      // A sign-out ends the session's Realtime channels at once, not at Realtime's next check.
      onSessionsEnded: () => realtime.sessionsMayHaveEnded(),
    })

    // Provider keys and other settings a developer keeps in env files, as `supabase functions serve` passes them.
    const fileEnv = options.envFiles === false ? {} : readEnvFiles(PROJECT_ROOT, (line) => log('stack', line))
    const env = { ...fileEnv, ...functionEnv(apiUrl, database.url, keys) }
    for (const spec of declaredFunctions()) {
      gatewayOptions.functions.set(
        spec.name,
        new FunctionWorker(spec, { env, watch: options.watch, log: options.log }),
      )
    }
    const workers = [...gatewayOptions.functions.values()]
    cleanups.push(async () => {
      await Promise.all(workers.map((worker) => worker.stop()))
    })
    // A function that fails to start is reported and answered 503 until it starts; the rest serve.
    const started = await Promise.allSettled(workers.map((worker) => worker.whenReady()))
    started.forEach((result, i) => {
      if (result.status === 'rejected') log(workers[i].spec.name, `did not start: ${result.reason.message}`)
    })

    const schedulesEvery =
      schedulesCheckInterval(fileEnv.SCHEDULES_CHECK_INTERVAL_MS, (line) => log('schedules', line)) ??
      options.schedulesCheckIntervalMs
    if (schedulesEvery && gatewayOptions.functions.has('ai')) {
      const timer = startSchedulesTimer({
        url: `${apiUrl}/functions/v1/ai/schedules/due`,
        serviceRoleKey: keys.serviceRoleKey,
        intervalMs: schedulesEvery,
        log: (line) => log('schedules', line),
      })
      cleanups.push(() => timer.stop())
    }

    if (gatewayOptions.functions.has('ai')) {
      const stopDrainTimer = startKnowledgeDrainTimer({
        apiUrl,
        serviceRoleKey: keys.serviceRoleKey,
        intervalMs:
          options.knowledgeDrainIntervalMs ?? Number(process.env.KNOWLEDGE_DRAIN_INTERVAL_MS ?? 60_000),
        log: (line) => log('stack', line),
      })
      cleanups.push(stopDrainTimer)
    }

    return {
      apiUrl,
      dbUrl: database.url,
      embeddedDatabase: database.embedded,
      databaseVersion: database.version,
      keys,
      functions: [...gatewayOptions.functions.keys()],
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
