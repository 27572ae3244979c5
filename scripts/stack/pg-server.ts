import { createServer, type Server, type Socket } from 'node:net'
import type { PGlite } from '@electric-sql/pglite'
import { md5Matches, type PasswordCheck, passwordCheck, ScramExchange } from './pg-auth.ts'
import {
  authentication,
  BackendScanner,
  CANCEL_REQUEST,
  customSettingNames,
  errorResponse,
  GSSENC_REQUEST,
  literal,
  maySetSessionState,
  parseStartup,
  parseStartupOptions,
  queryText,
  refusingQuery,
  SSL_REQUEST,
  type Startup,
  setsSessionAuthorization,
} from './pg-wire.ts'

/**
 * Serves one PGlite database over the Postgres wire protocol to many connections, each logged in
 * as a role of the database with its password, as PostgreSQL would.
 *
 * PGlite has a single backend session, so connections take turns: a connection holds the database
 * from its first message until a Sync or simple Query leaves no transaction open. Whole
 * extended-protocol exchanges and whole transactions are therefore never interleaved with another
 * connection's messages. The session is the connection's own while it holds the turn: before a
 * turn the server puts back the connection's session user, SET ROLE and session settings (its
 * login defaults from ALTER ROLE/DATABASE … SET and its startup parameters, then whatever it SET
 * itself) in place of the previous connection's. See docs/adr/0014-hosted-roles-locally.md.
 */

export interface PgServerOptions {
  db: PGlite
  host: string
  port: number
  /** The superuser PGlite's session was opened as; the server acts as it between clients. */
  superuser: string
  /** The one database clients may connect to. */
  database: string
}

/** What a connection's session holds while it has the turn. */
interface SessionState {
  user: string
  /** A session-level SET ROLE, or null for none. */
  role: string | null
  /** Session-level settings, applied in this order. */
  settings: Array<[string, string]>
}

const stateKey = (state: SessionState) => JSON.stringify(state)
/** Settings in name order, so that equal states have equal keys. */
const byName = (settings: Iterable<[string, string]>) =>
  [...settings].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

/** Settings that belong to a transaction or to the role switch, never restored as session settings. */
const NOT_SAVED = ['transaction_isolation', 'transaction_read_only', 'transaction_deferrable', 'role']

/**
 * The session settings and identity the current connection left, read before another one takes
 * over: those pg_settings shows as set in the session, and the custom ones ($1) it cannot show.
 */
const READ_SESSION = `
  select session_user::text as "user", pg_catalog.current_setting('role') as role,
         coalesce((select pg_catalog.json_agg(pg_catalog.json_build_array(name, pg_catalog.current_setting(name)))
                   from pg_catalog.pg_settings
                   where source = 'session' and name <> all ('{${NOT_SAVED.join(',')}}')), '[]') as settings,
         coalesce((select pg_catalog.json_agg(pg_catalog.json_build_array(n, v))
                   from pg_catalog.unnest($1::text[]) n, pg_catalog.current_setting(n, true) v
                   where v <> ''), '[]') as custom`

/** A role that may log in: its password verifier and its login defaults. */
const LOGIN_ROLE = `
  select a.rolname, a.rolsuper, a.rolcanlogin, a.rolpassword,
         a.rolvaliduntil is not null and a.rolvaliduntil < pg_catalog.now() as expired,
         coalesce((
           select pg_catalog.array_agg(setting order by precedence, position)
           from (select s.setconfig,
                        case when s.setrole = 0 and s.setdatabase = 0 then 0
                             when s.setrole = 0 then 1 when s.setdatabase = 0 then 2 else 3 end as precedence
                 from pg_catalog.pg_db_role_setting s
                 where s.setrole in (0, a.oid)
                   and s.setdatabase in (0, (select oid from pg_catalog.pg_database where datname = $2))) d,
                pg_catalog.unnest(d.setconfig) with ordinality as u(setting, position)
         ), '{}') as settings
  from pg_catalog.pg_authid a where a.rolname = $1`

interface LoginRole {
  rolname: string
  rolsuper: boolean
  rolcanlogin: boolean
  rolpassword: string | null
  expired: boolean
  settings: string[]
}

export class PgServer {
  private server: Server | null = null
  private readonly connections = new Set<Connection>()
  private owner: object | null = null
  private waiters: Array<() => void> = []
  private readonly turnListeners = new Set<() => void>()
  /** The state in PGlite's session now (null: not known, set it afresh) and whose it is. */
  private current: SessionState | null = null
  private holder: Connection | null = null
  /** The holder may have changed its session since `current` was read. */
  private holderChanged = false
  /** Every custom (dotted) setting a client has named: pg_settings does not list them. */
  private readonly customSettings = new Set<string>()
  private readonly adminState: SessionState

  constructor(private readonly options: PgServerOptions) {
    this.adminState = { user: options.superuser, role: null, settings: [] }
  }

  async start(): Promise<number> {
    const server = createServer((socket) => this.accept(socket))
    this.server = server
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'EADDRINUSE'
            ? new Error(
                `Port ${this.options.port} on ${this.options.host} (database) is already in use. ` +
                  'Stop what uses it, or choose another port.',
              )
            : error,
        )
      server.once('error', onError)
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', onError)
        resolve()
      })
    })
    const address = server.address()
    return typeof address === 'object' && address ? address.port : this.options.port
  }

  async stop(): Promise<void> {
    const closing = [...this.connections].map((connection) => {
      connection.socket.destroy()
      return connection.closed()
    })
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
    await Promise.all(closing)
    this.server = null
    // A connection cut mid-transaction leaves work to roll back before the database closes.
    if (this.options.db.isInTransaction()) await this.options.db.exec('rollback').catch(() => {})
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true)
    const connection = new Connection(socket, this)
    this.connections.add(connection)
    socket.on('close', () => {
      this.connections.delete(connection)
      void connection.closed()
    })
    socket.on('error', () => socket.destroy())
  }

  get db(): PGlite {
    return this.options.db
  }

  get database(): string {
    return this.options.database
  }

  async acquire(owner: object): Promise<void> {
    while (this.owner !== null && this.owner !== owner) {
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
    this.owner = owner
  }

  release(owner: object): void {
    if (this.owner !== owner) return
    this.owner = null
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
    for (const listener of this.turnListeners) listener()
  }

  /**
   * Calls `listener` whenever a connection's turn ends, i.e. whenever a transaction may have
   * committed (the local Realtime server polls its change outbox then); returns the unsubscriber.
   */
  onTurnEnd(listener: () => void): () => void {
    this.turnListeners.add(listener)
    return () => this.turnListeners.delete(listener)
  }

  /** Runs `work` as the superuser, between clients' turns. */
  async asSuperuser<T>(work: (db: PGlite) => Promise<T>): Promise<T> {
    const turn = {}
    await this.acquire(turn)
    try {
      await this.load(this.adminState, null)
      return await work(this.options.db)
    } finally {
      this.release(turn)
    }
  }

  /** Puts `connection`'s session state into PGlite's session (it holds the turn). */
  async loadFor(connection: Connection): Promise<void> {
    await this.load(connection.state, connection)
  }

  /** The connection that holds the session may have changed its settings during this turn. */
  sessionMayHaveChanged(connection: Connection): void {
    if (this.holder === connection) this.holderChanged = true
  }

  /** Custom settings a client named, to be read with the rest of its session. */
  noteCustomSettings(names: Iterable<string>): void {
    for (const name of names) this.customSettings.add(name)
  }

  /** A connection left: what it changed in the session is no longer anyone's to save. */
  forget(connection: Connection): void {
    if (this.holder !== connection) return
    if (this.holderChanged) this.current = null
    this.holder = null
    this.holderChanged = false
  }

  private async load(state: SessionState, holder: Connection | null): Promise<void> {
    if (holder !== null && this.holder === holder) return
    const db = this.options.db
    if (this.holder && this.holderChanged) {
      try {
        type Row = {
          user: string
          role: string
          settings: Array<[string, string]>
          custom: Array<[string, string]>
        }
        const [row] = (await db.query<Row>(READ_SESSION, [[...this.customSettings]])).rows
        this.holder.state = {
          user: row.user,
          role: row.role === 'none' ? null : row.role,
          settings: byName([...row.settings, ...row.custom]),
        }
        this.current = this.holder.state
      } catch {
        this.current = null
      }
    }
    this.holder = holder
    this.holderChanged = false
    if (this.current && stateKey(this.current) === stateKey(state)) {
      this.current = state
      return
    }
    const from = this.current
    this.current = null
    const sql = from ? this.changes(from, state) : this.fromScratch(state)
    if (sql.length) await db.exec(sql.join(';\n'))
    this.current = state
  }

  /** Statements that make the session `state` whatever it holds now. */
  private fromScratch(state: SessionState): string[] {
    const superuser = this.options.superuser
    return [
      setConfigs([['session_authorization', superuser]]),
      'reset all',
      setConfigs([
        ['role', 'none'],
        ...state.settings,
        ...(state.user === superuser
          ? []
          : ([['session_authorization', state.user]] as Array<[string, string]>)),
        ...(state.role ? ([['role', state.role]] as Array<[string, string]>) : []),
      ]),
    ]
  }

  /**
   * Statements that turn the session from `from`, exactly known, into `to`: one `select
   * set_config(…), …` (the session user and SET ROLE are settings too), or a fresh start when a
   * setting must go back to its default.
   */
  private changes(from: SessionState, to: SessionState): string[] {
    const after = new Map(to.settings)
    if (from.settings.some(([name]) => !after.has(name))) return this.fromScratch(to)
    const before = new Map(from.settings)
    const sets = to.settings.filter(([name, value]) => before.get(name) !== value)
    const superuser = this.options.superuser
    const configs: Array<[string, string]> = []
    // Settings are made as the superuser, who may make any of them (as a server does before login).
    const switching = sets.length > 0 || from.user !== to.user
    if (switching && from.user !== superuser) configs.push(['session_authorization', superuser])
    configs.push(...sets)
    if (switching && to.user !== superuser) configs.push(['session_authorization', to.user])
    if (switching || from.role !== to.role) configs.push(['role', to.role ?? 'none'])
    return configs.length ? [setConfigs(configs)] : []
  }
}

const setConfigs = (settings: Array<[string, string]>) =>
  `select ${settings.map(([name, value]) => `pg_catalog.set_config(${literal(name)}, ${literal(value)}, false)`).join(', ')}`

interface Message {
  type: string
  bytes: Buffer
}

type Phase =
  | { name: 'startup' }
  | { name: 'password'; role: LoginRole; check: Extract<PasswordCheck, { method: 'md5' }> }
  | { name: 'sasl-first'; role: LoginRole; exchange: ScramExchange }
  | { name: 'sasl-final'; role: LoginRole; exchange: ScramExchange }
  | { name: 'ready' }

class LoginError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

class Connection {
  private buffer: Buffer = Buffer.alloc(0)
  private started = false
  private chain: Promise<void> = Promise.resolve()
  private done = false
  private closing: Promise<void> | undefined
  private holding = false
  private phase: Phase = { name: 'startup' }
  private startup: (Startup & { bytes: Buffer }) | undefined
  private superuser = false
  private readonly scanner: BackendScanner
  /** The client became another role through the shared session (see the scanner below). */
  private violated = false
  /** Set once logged in; the server keeps it current between turns. */
  state: SessionState = { user: '', role: null, settings: [] }

  constructor(
    readonly socket: Socket,
    private readonly server: PgServer,
  ) {
    this.scanner = new BackendScanner(
      (tag) => {
        if (/^(SET|RESET|DISCARD)\b/.test(tag)) this.server.sessionMayHaveChanged(this)
      },
      (name, value) => {
        // A role that is not a superuser got one's rights (SET SESSION AUTHORIZATION hidden in
        // dynamic SQL): the one session is not to be trusted with this client any more.
        if (this.superuser) return
        if (
          (name === 'is_superuser' && value === 'on') ||
          (name === 'session_authorization' && value !== this.state.user)
        ) {
          this.violated = true
        }
      },
    )
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk
      const messages = this.takeMessages()
      if (messages.length) this.chain = this.chain.then(() => this.run(messages))
    })
  }

  /** Splits the buffered bytes into complete protocol messages. */
  private takeMessages(): Message[] {
    const messages: Message[] = []
    for (;;) {
      if (!this.started) {
        if (this.buffer.length < 8) break
        const length = this.buffer.readInt32BE(0)
        if (this.buffer.length < length) break
        const code = this.buffer.readInt32BE(4)
        const message = this.buffer.subarray(0, length)
        this.buffer = this.buffer.subarray(length)
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.socket.write('N')
          continue
        }
        if (code === CANCEL_REQUEST) {
          this.socket.end()
          break
        }
        this.started = true
        messages.push({ type: 'startup', bytes: Buffer.from(message) })
        continue
      }
      if (this.buffer.length < 5) break
      const length = 1 + this.buffer.readInt32BE(1)
      if (this.buffer.length < length) break
      messages.push({
        type: String.fromCharCode(this.buffer[0]),
        bytes: Buffer.from(this.buffer.subarray(0, length)),
      })
      this.buffer = this.buffer.subarray(length)
    }
    return messages
  }

  private async run(messages: Message[]): Promise<void> {
    if (this.done) return
    try {
      if (this.phase.name === 'ready') await this.runMessages(messages)
      else await this.logIn(messages)
    } catch (error) {
      this.fail(error instanceof LoginError ? error.code : '08P01', (error as Error).message)
    } finally {
      this.flush()
    }
  }

  /** Ends the connection with a FATAL error, as PostgreSQL does when it refuses a client. */
  private fail(code: string, message: string): void {
    this.done = true
    if (this.socket.writable) this.socket.end(errorResponse('FATAL', code, message))
    else this.socket.destroy()
  }

  // ---- logging in ----------------------------------------------------------------------------

  private async logIn(messages: Message[]): Promise<void> {
    for (const message of messages) {
      if (this.done) return
      const phase = this.phase
      if (phase.name === 'startup') {
        if (message.type !== 'startup') throw new LoginError('08P01', 'expected a startup message')
        await this.begin(message.bytes)
      } else if (message.type !== 'p') {
        throw new LoginError('08P01', `expected a password response, got message type "${message.type}"`)
      } else if (phase.name === 'password') {
        const response = message.bytes.toString('utf8', 5, message.bytes.length - 1)
        if (!md5Matches(phase.check.hash, phase.check.salt, response)) this.refuse()
        await this.complete(phase.role)
      } else if (phase.name === 'sasl-first') {
        const body = message.bytes.subarray(5)
        const mechanismEnd = body.indexOf(0)
        if (body.toString('utf8', 0, mechanismEnd) !== 'SCRAM-SHA-256') {
          throw new LoginError('28000', 'client selected an invalid SASL authentication mechanism')
        }
        const length = body.readInt32BE(mechanismEnd + 1)
        const clientFirst = body.toString('utf8', mechanismEnd + 5, mechanismEnd + 5 + Math.max(length, 0))
        let serverFirst: string
        try {
          serverFirst = phase.exchange.serverFirstMessage(clientFirst)
        } catch (error) {
          throw new LoginError('08P01', (error as Error).message)
        }
        this.phase = { name: 'sasl-final', role: phase.role, exchange: phase.exchange }
        this.socket.write(authentication(11, Buffer.from(serverFirst)))
      } else if (phase.name === 'sasl-final') {
        const serverFinal = phase.exchange.serverFinalMessage(message.bytes.toString('utf8', 5))
        if (!serverFinal) this.refuse()
        this.socket.write(authentication(12, Buffer.from(serverFinal as string)))
        await this.complete(phase.role)
      }
    }
  }

  private refuse(): never {
    throw new LoginError(
      '28P01',
      `password authentication failed for user "${this.startup?.params.get('user')}"`,
    )
  }

  /** Reads the startup message, looks the role up and asks for its password. */
  private async begin(bytes: Buffer): Promise<void> {
    const startup = { ...parseStartup(bytes), bytes }
    this.startup = startup
    const user = startup.params.get('user')
    if (!user) throw new LoginError('28000', 'no PostgreSQL user name specified in startup packet')
    if (startup.params.has('replication') && startup.params.get('replication') !== 'false') {
      throw new LoginError('0A000', 'the local database does not serve replication connections')
    }
    const database = startup.params.get('database') || user
    if (database !== this.server.database) {
      throw new LoginError('3D000', `database "${database}" does not exist`)
    }
    const [role] = await this.server.asSuperuser(
      async (db) => (await db.query<LoginRole>(LOGIN_ROLE, [user, database])).rows,
    )
    const check = role && !role.expired ? passwordCheck(role.rolpassword) : undefined
    if (!role || !check) this.refuse()
    if (check.method === 'md5') {
      this.phase = { name: 'password', role, check }
      this.socket.write(authentication(5, check.salt))
    } else {
      this.phase = { name: 'sasl-first', role, exchange: new ScramExchange(check.secret) }
      this.socket.write(authentication(10, Buffer.from('SCRAM-SHA-256\0\0')))
    }
  }

  /** The password was right: the session becomes the role's, and PGlite answers the startup. */
  private async complete(role: LoginRole): Promise<void> {
    if (!role.rolcanlogin) throw new LoginError('28000', `role "${role.rolname}" is not permitted to log in`)
    const startup = this.startup as Startup & { bytes: Buffer }
    const settings = new Map<string, string>()
    for (const setting of role.settings) {
      const at = setting.indexOf('=')
      settings.set(setting.slice(0, at), setting.slice(at + 1))
    }
    // Startup parameters other than these are settings (application_name, TimeZone, …).
    const notSettings = new Set(['user', 'database', 'options', 'replication'])
    for (const [name, value] of startup.params) {
      if (!notSettings.has(name) && !name.startsWith('_pq_.')) settings.set(name, value)
    }
    for (const [name, value] of parseStartupOptions(startup.params.get('options') ?? ''))
      settings.set(name, value)
    this.state = { user: role.rolname, role: null, settings: byName(settings) }
    this.server.noteCustomSettings([...settings.keys()].filter((name) => name.includes('.')))
    this.superuser = role.rolsuper
    this.phase = { name: 'ready' }
    await this.server.acquire(this)
    try {
      try {
        await this.server.loadFor(this)
      } catch (error) {
        this.server.forget(this)
        throw new LoginError('22023', (error as Error).message)
      }
      await this.forward(startup.bytes)
    } finally {
      if (!this.server.db.isInTransaction()) this.server.release(this)
    }
  }

  // ---- serving -------------------------------------------------------------------------------

  /**
   * Answers go out in one write per point where the client waits for them (Sync, Query, Flush,
   * startup) rather than one per protocol message.
   */
  private hold(): void {
    if (!this.holding) {
      this.socket.cork()
      this.holding = true
    }
  }

  private flush(): void {
    if (this.holding) {
      this.holding = false
      this.socket.uncork()
    }
  }

  private async forward(bytes: Buffer): Promise<void> {
    const db = this.server.db
    this.hold()
    await db.runExclusive(() =>
      db.execProtocolRawStream(new Uint8Array(bytes), {
        // `data` is a view of PGlite's memory, which the next message overwrites: copy it,
        // since the socket may send it later (when held, or when the kernel's buffer is full).
        onRawData: (data) => {
          if (!data.length) return
          this.scanner.scan(data)
          if (this.socket.writable) this.socket.write(Buffer.from(data))
        },
      }),
    )
  }

  /**
   * Forwards the client's messages as they arrived: all of them (up to a Terminate) in one call
   * into PGlite, whose loop reads them one after another as a server reads its socket, and the
   * answers in one write. A transaction the client pipelined (withUser's BEGIN, settings,
   * statement and COMMIT, each a Bind, Execute and Sync) is then one call, one write and one turn
   * check instead of four of each (docs/adr/0037-request-path-waits.md). Nothing runs here that
   * the client could not have run by leaving out the Syncs between its statements: every message
   * is screened as before, and a client that became another role is refused after the call, before
   * anything it sends later runs. The turn is held through the call, so another connection waits
   * for the messages that had already arrived, never longer.
   */
  private async runMessages(messages: Message[]): Promise<void> {
    const db = this.server.db
    let next = 0
    while (next < messages.length) {
      if (messages[next].type === 'X') {
        this.socket.end()
        return
      }
      const parts: Buffer[] = []
      const customNames: string[] = []
      let changesSession = false
      let last = ''
      while (next < messages.length && messages[next].type !== 'X') {
        const { type } = messages[next++]
        let { bytes } = messages[next - 1]
        const sql = queryText(type, bytes)
        // Only a superuser may change the session user; here every client shares a session whose
        // authenticated user is one.
        if (sql !== undefined && !this.superuser && setsSessionAuthorization(sql)) {
          bytes = refusingQuery(type, bytes, '42501', 'permission denied to set session authorization')
        }
        if (sql !== undefined && maySetSessionState(sql)) {
          changesSession = true
          customNames.push(...customSettingNames(sql))
        }
        parts.push(bytes)
        last = type
      }
      await this.server.acquire(this)
      if (this.done) {
        this.server.release(this)
        return
      }
      try {
        await this.server.loadFor(this)
        if (changesSession) {
          this.server.sessionMayHaveChanged(this)
          this.server.noteCustomSettings(customNames)
        }
        await this.forward(parts.length === 1 ? parts[0] : Buffer.concat(parts))
      } catch {
        // The socket's close event runs closed(), which rolls back and hands the database on.
        this.done = true
        this.socket.destroy()
        return
      }
      if (this.violated) {
        this.server.sessionMayHaveChanged(this)
        this.fail('42501', 'permission denied to set session authorization')
        return
      }
      const waits = last === 'S' || last === 'Q'
      if (waits || last === 'H') this.flush()
      // The turn ends where the client waits for an answer and no transaction stays open.
      if (waits && !db.isInTransaction()) this.server.release(this)
    }
  }

  /** Rolls back what the connection left open; the same promise every call. */
  closed(): Promise<void> {
    this.closing ??= this.close()
    return this.closing
  }

  private async close(): Promise<void> {
    this.done = true
    await this.chain.catch(() => {})
    if (this.phase.name !== 'ready') return
    await this.server.acquire(this)
    const db = this.server.db
    try {
      // db.exec takes PGlite's own lock (so never inside runExclusive).
      if (db.isInTransaction()) await db.exec('rollback').catch(() => {})
    } finally {
      this.server.forget(this)
      this.server.release(this)
    }
  }
}
