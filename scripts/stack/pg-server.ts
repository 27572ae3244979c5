import { createServer, type Server, type Socket } from 'node:net'
import type { PGlite } from '@electric-sql/pglite'

/**
 * Serves one PGlite database over the Postgres wire protocol to many connections.
 *
 * PGlite has a single backend session, so connections take turns: a connection holds the database
 * from its first message until a Sync or simple Query leaves no transaction open. Whole
 * extended-protocol exchanges and whole transactions are therefore never interleaved with another
 * connection's messages (which @electric-sql/pglite-socket, multiplexing message by message, does).
 * Session state is shared by every connection, so per-request settings must be transaction-local.
 */

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102

export interface PgServerOptions {
  db: PGlite
  host: string
  port: number
  /** Run when a connection closes, so session settings it made (search_path, role…) die with it. */
  sessionReset?: string
}

export class PgServer {
  private server: Server | null = null
  private readonly connections = new Set<Connection>()
  private owner: Connection | null = null
  private waiters: Array<() => void> = []
  private readonly turnListeners = new Set<() => void>()

  constructor(private readonly options: PgServerOptions) {}

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

  get sessionReset(): string | undefined {
    return this.options.sessionReset
  }

  async acquire(connection: Connection): Promise<void> {
    while (this.owner !== null && this.owner !== connection) {
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
    this.owner = connection
  }

  release(connection: Connection): void {
    if (this.owner !== connection) return
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

  isOwner(connection: Connection): boolean {
    return this.owner === connection
  }
}

interface Message {
  type: string
  bytes: Buffer
}

class Connection {
  private buffer: Buffer = Buffer.alloc(0)
  private started = false
  private chain: Promise<void> = Promise.resolve()
  private done = false
  private closing: Promise<void> | undefined
  private holding = false

  constructor(
    readonly socket: Socket,
    private readonly server: PgServer,
  ) {
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
      await this.runMessages(messages)
    } finally {
      this.flush()
    }
  }

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

  private async runMessages(messages: Message[]): Promise<void> {
    const db = this.server.db
    for (const { type, bytes } of messages) {
      if (type === 'X') {
        this.socket.end()
        return
      }
      await this.server.acquire(this)
      if (this.done) {
        this.server.release(this)
        return
      }
      this.hold()
      try {
        await db.runExclusive(() =>
          db.execProtocolRawStream(new Uint8Array(bytes), {
            // `data` is a view of PGlite's memory, which the next message overwrites: copy it,
            // since the socket may send it later (when held, or when the kernel's buffer is full).
            onRawData: (data) => {
              if (data.length && this.socket.writable) this.socket.write(Buffer.from(data))
            },
          }),
        )
      } catch {
        // The socket's close event runs closed(), which rolls back and hands the database on.
        this.done = true
        this.socket.destroy()
        return
      }
      const waits = type === 'S' || type === 'Q' || type === 'startup'
      if (waits || type === 'H') this.flush()
      // The turn ends where the client waits for an answer and no transaction stays open.
      if (waits && !db.isInTransaction()) this.server.release(this)
    }
  }

  /** Rolls back what the connection left open and resets the session; the same promise every call. */
  closed(): Promise<void> {
    this.closing ??= this.close()
    return this.closing
  }

  private async close(): Promise<void> {
    this.done = true
    await this.chain.catch(() => {})
    await this.server.acquire(this)
    const db = this.server.db
    try {
      // db.exec takes PGlite's own lock (so never inside runExclusive).
      if (db.isInTransaction()) await db.exec('rollback').catch(() => {})
      const reset = this.server.sessionReset
      if (reset) await db.exec(reset).catch(() => {})
    } finally {
      this.server.release(this)
    }
  }
}
