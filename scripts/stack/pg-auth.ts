import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * The server side of PostgreSQL's password methods, checked against the verifier PostgreSQL
 * itself stored in pg_authid.rolpassword: SCRAM-SHA-256 (RFC 5802 / 7677, without channel
 * binding) when it holds a SCRAM secret, MD5 when it holds an md5 hash. `alter role … password`
 * therefore changes what the local server accepts, as on any PostgreSQL.
 */

export type PasswordCheck =
  | { method: 'scram'; secret: ScramSecret }
  | { method: 'md5'; hash: string; salt: Buffer }

interface ScramSecret {
  iterations: number
  salt: string
  storedKey: Buffer
  serverKey: Buffer
}

const SCRAM_SECRET = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/

/** How to check a login against `rolpassword`; `undefined` when no password can match (none stored). */
export function passwordCheck(rolpassword: string | null): PasswordCheck | undefined {
  if (!rolpassword) return undefined
  const scram = SCRAM_SECRET.exec(rolpassword)
  if (scram) {
    return {
      method: 'scram',
      secret: {
        iterations: Number(scram[1]),
        salt: scram[2],
        storedKey: Buffer.from(scram[3], 'base64'),
        serverKey: Buffer.from(scram[4], 'base64'),
      },
    }
  }
  if (/^md5[0-9a-f]{32}$/.test(rolpassword)) {
    return { method: 'md5', hash: rolpassword.slice(3), salt: randomBytes(4) }
  }
  return undefined
}

const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex')

/** What a client sends for MD5: "md5" + md5(md5(password + user) + salt). */
export function md5Matches(hash: string, salt: Buffer, response: string): boolean {
  const expected = Buffer.from(`md5${md5(Buffer.concat([Buffer.from(hash), salt]))}`)
  const given = Buffer.from(response)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** One SCRAM-SHA-256 exchange: client-first → server-first, client-final → server-final. */
export class ScramExchange {
  private clientFirstBare = ''
  private serverFirst = ''
  private gs2Header = ''
  private nonce = ''

  constructor(private readonly secret: ScramSecret) {}

  /** Answers the client-first-message; throws on what this server does not speak. */
  serverFirstMessage(clientFirst: string): string {
    const header = /^([ny]|p=[^,]*),([^,]*),/.exec(clientFirst)
    if (!header) throw new Error('malformed SCRAM client-first-message')
    if (header[1].startsWith('p=')) throw new Error('channel binding is not supported by this server')
    this.gs2Header = header[0]
    this.clientFirstBare = clientFirst.slice(header[0].length)
    const clientNonce = /(?:^|,)r=([^,]+)/.exec(this.clientFirstBare)?.[1]
    if (!clientNonce) throw new Error('malformed SCRAM client-first-message')
    this.nonce = clientNonce + randomBytes(18).toString('base64')
    this.serverFirst = `r=${this.nonce},s=${this.secret.salt},i=${this.secret.iterations}`
    return this.serverFirst
  }

  /** The server-final-message when the proof is right, `undefined` when it is not. */
  serverFinalMessage(clientFinal: string): string | undefined {
    const proofAt = clientFinal.lastIndexOf(',p=')
    if (proofAt < 0) return undefined
    const withoutProof = clientFinal.slice(0, proofAt)
    const fields = new Map(withoutProof.split(',').map((part) => [part[0], part.slice(2)]))
    if (fields.get('c') !== Buffer.from(this.gs2Header).toString('base64')) return undefined
    if (fields.get('r') !== this.nonce) return undefined
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), 'base64')
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`
    const clientSignature = createHmac('sha256', this.secret.storedKey).update(authMessage).digest()
    if (proof.length !== clientSignature.length) return undefined
    const clientKey = Buffer.alloc(proof.length)
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i] ^ clientSignature[i]
    const storedKey = createHash('sha256').update(clientKey).digest()
    if (!timingSafeEqual(storedKey, this.secret.storedKey)) return undefined
    const serverSignature = createHmac('sha256', this.secret.serverKey).update(authMessage).digest()
    return `v=${serverSignature.toString('base64')}`
  }
}
