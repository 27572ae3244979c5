import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startStack } from './stack/index.ts'
import { DEFAULT_SCHEDULES_CHECK_INTERVAL_MS, schedulesCheckInterval } from './stack/schedules-timer.ts'
import { PROJECT_ROOT } from './paths.ts'

const HELP = `npm run dev -- [options]

Starts the local Supabase-compatible stack: Postgres (PGlite), Auth, Realtime and every function
declared in supabase/config.toml, with no Docker and no keys.

  --port <n>        API gateway port (default 54321)
  --db-port <n>     Postgres port (default 54322)
  --data-dir <dir>  database directory (default .consilium/db)
  --reset           delete the database first (migrations and seed run again)
  --db-url <url>    run on an existing PostgreSQL (15+, pgvector 0.8+) instead: a superuser's URL,
                    e.g. postgresql://supabase_admin:postgres@127.0.0.1:5432/consilium (README)
  --no-watch        do not restart functions when their code changes
  -h, --help        this text`

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '54321' },
    'db-port': { type: 'string', default: '54322' },
    'data-dir': { type: 'string', default: join(PROJECT_ROOT, '.consilium', 'db') },
    reset: { type: 'boolean', default: false },
    'db-url': { type: 'string' },
    'no-watch': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
})

if (values.help) {
  console.log(HELP)
  process.exit(0)
}

function port(value: string, flag: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`${flag} must be a port number, not "${value}"`)
    process.exit(2)
  }
  return n
}

if (values['db-url'] && values.reset) {
  console.error(
    '--reset deletes the embedded database; on an existing PostgreSQL drop and create the database ' +
      'yourself (dropdb, createdb), and the next start migrates and seeds it.',
  )
  process.exit(2)
}

const started = Date.now()
console.log('Starting the local stack…')
let stack: Awaited<ReturnType<typeof startStack>>
try {
  stack = await startStack({
    port: port(values.port, '--port'),
    dbPort: port(values['db-port'], '--db-port'),
    dataDir: values['data-dir'],
    reset: values.reset,
    dbUrl: values['db-url'],
    seed: true,
    watch: !values['no-watch'],
    // Due schedules run as pg_cron runs them on hosted Supabase: every minute unless set otherwise.
    schedulesCheckIntervalMs:
      schedulesCheckInterval(process.env.SCHEDULES_CHECK_INTERVAL_MS, console.error) ??
      DEFAULT_SCHEDULES_CHECK_INTERVAL_MS,
  })
} catch (error) {
  console.error(`\nCould not start: ${(error as Error).message}`)
  process.exit(1)
}

const { apiUrl, dbUrl, keys } = stack
console.log(`
Started in ${((Date.now() - started) / 1000).toFixed(1)} s. Consilium's local stack is running.

         API URL: ${apiUrl}
   Functions URL: ${apiUrl}/functions/v1/<name>  (${stack.functions.join(', ')})
        Auth URL: ${apiUrl}/auth/v1
    Realtime URL: ${apiUrl.replace('http', 'ws')}/realtime/v1/websocket
          DB URL: ${dbUrl}  (${stack.databaseVersion})
        JWKS URL: ${apiUrl}/auth/v1/.well-known/jwks.json
      JWT secret: ${keys.jwtSecret}
        anon key: ${keys.anonKey}
service_role key: ${keys.serviceRoleKey}

Press Ctrl-C to stop.`)

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return
    stopping = true
    console.log('\nStopping…')
    await stack.stop()
    console.log(stack.embeddedDatabase ? 'Stopped; the database was closed cleanly.' : 'Stopped.')
    process.exit(0)
  })
}
