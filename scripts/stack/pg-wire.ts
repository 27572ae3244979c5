/**
 * The pieces of the PostgreSQL wire protocol the local server reads and writes itself (everything
 * else passes through to PGlite untouched), and the SQL text checks it makes on a client's queries.
 */

export const PROTOCOL_3 = 196608
export const SSL_REQUEST = 80877103
export const GSSENC_REQUEST = 80877104
export const CANCEL_REQUEST = 80877102

/** A protocol message: its type, its length, its body (frontend and backend frame alike). */
export function backendMessage(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5)
  header.write(type, 0, 'latin1')
  header.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([header, body])
}

/** AuthenticationXXX: R, a code, then the method's data. */
export function authentication(code: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(4)
  head.writeInt32BE(code)
  return backendMessage('R', Buffer.concat([head, data]))
}

export function errorResponse(severity: 'ERROR' | 'FATAL', code: string, message: string): Buffer {
  const fields = [`S${severity}`, `V${severity}`, `C${code}`, `M${message}`]
  return backendMessage('E', Buffer.from(`${fields.join('\0')}\0\0`))
}

export interface Startup {
  protocol: number
  params: Map<string, string>
}

/** A StartupMessage (its length word included). */
export function parseStartup(message: Buffer): Startup {
  const params = new Map<string, string>()
  const parts = message.subarray(8).toString('utf8').split('\0')
  for (let i = 0; i + 1 < parts.length && parts[i] !== ''; i += 2) params.set(parts[i], parts[i + 1])
  return { protocol: message.readInt32BE(4), params }
}

/** The `-c name=value` / `--name=value` settings in a startup `options` parameter. */
export function parseStartupOptions(options: string): Array<[string, string]> {
  const words: string[] = []
  let word = ''
  for (let i = 0; i < options.length; i++) {
    const char = options[i]
    if (char === '\\' && i + 1 < options.length) word += options[++i]
    else if (/\s/.test(char)) {
      if (word) words.push(word)
      word = ''
    } else word += char
  }
  if (word) words.push(word)
  const settings: Array<[string, string]> = []
  for (let i = 0; i < words.length; i++) {
    let setting: string | undefined
    if (words[i] === '-c') setting = words[++i]
    else if (words[i].startsWith('-c')) setting = words[i].slice(2)
    else if (words[i].startsWith('--')) setting = words[i].slice(2)
    const at = setting?.indexOf('=') ?? -1
    if (setting && at > 0) settings.push([setting.slice(0, at).replaceAll('-', '_'), setting.slice(at + 1)])
  }
  return settings
}

/** The SQL text of a simple Query ('Q') or Parse ('P') message. */
export function queryText(type: string, message: Buffer): string | undefined {
  if (type === 'Q') return message.toString('utf8', 5, message.length - 1)
  if (type === 'P') {
    const nameEnd = message.indexOf(0, 5)
    const textEnd = message.indexOf(0, nameEnd + 1)
    return nameEnd < 0 || textEnd < 0 ? undefined : message.toString('utf8', nameEnd + 1, textEnd)
  }
  return undefined
}

/**
 * `message` with its SQL replaced by a statement that fails as PostgreSQL refuses `reason`, so that
 * PGlite itself answers the error and aborts the transaction, as a server that refused it would.
 */
export function refusingQuery(type: string, message: Buffer, code: string, reason: string): Buffer {
  const sql = `do $refused$ begin raise exception using errcode = ${literal(code)}, message = ${literal(reason)}; end $refused$`
  if (type === 'Q') return backendMessage('Q', Buffer.from(`${sql}\0`))
  const name = message.subarray(5, message.indexOf(0, 5) + 1)
  return backendMessage('P', Buffer.concat([name, Buffer.from(`${sql}\0`), Buffer.alloc(2)]))
}

/** Every client shares PGlite's one session; this one statement would let any of them become another role. */
const SESSION_AUTHORIZATION =
  /\b(?:set|reset)\s+(?:(?:session|local)\s+)?session[\s_]+authorization\b|set_config\s*\(\s*'session_authorization'/i

export function setsSessionAuthorization(sql: string): boolean {
  return SESSION_AUTHORIZATION.test(sql)
}

/**
 * Whether a query may change a session setting that its CommandComplete tag does not show:
 * `set_config(…)` whose last argument is not the literal `true` (transaction-local), or SET/RESET
 * inside a dollar-quoted body (a DO block or a function defined on the spot). Errs towards yes;
 * the price of a false yes is one query that reads the session's settings.
 */
export function maySetSessionState(sql: string): boolean {
  if (/\$[A-Za-z_]*\$/.test(sql) && /\b(?:set|reset)\b/i.test(sql)) return true
  const calls = /\bset_config\s*\(/gi
  for (let match = calls.exec(sql); match; match = calls.exec(sql)) {
    const last = lastArgument(sql, match.index + match[0].length)
    if (last?.trim().toLowerCase() !== 'true') return true
  }
  return false
}

const CUSTOM_NAME = /^[A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)+$/

/**
 * The custom (dotted) settings a query names in `set_config('…', …)` or `SET name …`. PostgreSQL
 * lists no custom setting in pg_settings, so these are the ones a session's state is read for.
 */
export function customSettingNames(sql: string): string[] {
  const names: string[] = []
  for (const match of sql.matchAll(/\bset_config\s*\(\s*'([^']*)'/gi)) names.push(match[1])
  for (const match of sql.matchAll(
    /\bset\s+(?:session\s+|local\s+)?([A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)+)\s*(?:=|to\b)/gi,
  )) {
    names.push(match[1])
  }
  return names.filter((name) => CUSTOM_NAME.test(name)).map((name) => name.toLowerCase())
}

/** The text of the last top-level argument of a call whose arguments start at `from`. */
function lastArgument(sql: string, from: number): string | undefined {
  let depth = 0
  let start = from
  for (let i = from; i < sql.length; i++) {
    const char = sql[i]
    if (char === "'" || char === '"') {
      const close = sql.indexOf(char, i + 1)
      if (close < 0) return undefined
      i = close
    } else if (char === '(') depth++
    else if (char === ')') {
      if (depth === 0) return sql.slice(start, i)
      depth--
    } else if (char === ',' && depth === 0) start = i + 1
  }
  return undefined
}

/**
 * Follows the backend messages PGlite writes (in chunks that may split a message) and reports
 * the CommandComplete tags and ParameterStatus reports among them.
 */
export class BackendScanner {
  private header = Buffer.alloc(5)
  private headerFill = 0
  private type = ''
  private remaining = 0
  private body: Buffer[] = []

  constructor(
    private readonly onCommand: (tag: string) => void,
    private readonly onParameter: (name: string, value: string) => void,
  ) {}

  scan(chunk: Uint8Array): void {
    let at = 0
    while (at < chunk.length) {
      if (this.remaining === 0 && this.headerFill < 5) {
        const take = Math.min(5 - this.headerFill, chunk.length - at)
        this.header.set(chunk.subarray(at, at + take), this.headerFill)
        this.headerFill += take
        at += take
        if (this.headerFill < 5) return
        this.type = String.fromCharCode(this.header[0])
        this.remaining = this.header.readInt32BE(1) - 4
        this.body = []
        if (this.remaining === 0) this.finish()
        continue
      }
      const take = Math.min(this.remaining, chunk.length - at)
      if (this.type === 'C' || this.type === 'S') this.body.push(Buffer.from(chunk.subarray(at, at + take)))
      this.remaining -= take
      at += take
      if (this.remaining === 0) this.finish()
    }
  }

  private finish(): void {
    if (this.type === 'C' || this.type === 'S') {
      const fields = Buffer.concat(this.body).toString('utf8').split('\0')
      if (this.type === 'C') this.onCommand(fields[0])
      else this.onParameter(fields[0], fields[1] ?? '')
    }
    this.headerFill = 0
    this.remaining = 0
    this.body = []
  }
}

export const literal = (value: string) => `'${value.replaceAll("'", "''")}'`
