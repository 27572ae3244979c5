import type { Channel } from './channel.ts'
import type { Connection } from './connection.ts'
import { type Encoding, encodeMessage, encodeUserBroadcast, type Vsn } from './frames.ts'
import { type PresenceDiff, PresenceRegistry } from './presence.ts'
import type { RealtimeStore } from './store.ts'
import { type Claims, SESSION_ENDED, TokenError, type TokenVerifier } from './tokens.ts'

export interface Limits {
  maxChannelsPerConnection: number
  /** Distinct sockets one user (the token's `sub`) may have channels on. */
  maxConnectionsPerUser: number
  /** Largest broadcast or presence payload; larger ones are refused. */
  maxPayloadBytes: number
  /** A socket with more than this queued and unsent is a slow consumer and is dropped. */
  maxBufferedBytes: number
  /** A socket that sends nothing (not even a heartbeat) for this long is closed. */
  idleTimeoutMs: number
  /** How often the sessions of joined channels' tokens are checked; a channel whose session ended closes. */
  sessionCheckMs: number
}

export const DEFAULT_LIMITS: Limits = {
  maxChannelsPerConnection: 100,
  maxConnectionsPerUser: 20,
  maxPayloadBytes: 256 * 1024,
  maxBufferedBytes: 8 * 1024 * 1024,
  idleTimeoutMs: 60_000,
  sessionCheckMs: 3_000,
}

/**
 * A broadcast on its way out. `user` broadcasts keep the sender's bytes and leave as binary
 * (kind 4) frames; `json` broadcasts leave as text, as hosted Realtime sends each kind.
 */
export interface Broadcast {
  form: 'user' | 'json'
  event: string
  encoding: Encoding
  /** The user payload: raw bytes, JSON text when `encoding` is json. */
  payload: Uint8Array
  meta?: { id: string }
}

export type Log = (line: string) => void

const decoder = new TextDecoder()

/** Private and public channels of one name are different topics, as on hosted Realtime. */
export function topicKey(isPrivate: boolean, subTopic: string): string {
  return `${isPrivate ? 'private' : 'public'}:${subTopic}`
}

/** What every socket shares: who is on which topic, presence, users, and the way out for broadcasts. */
export class Hub {
  readonly presence = new PresenceRegistry<Channel>()
  private readonly topics = new Map<string, Set<Channel>>()
  /** Channels with postgres_changes bindings. */
  readonly changeListeners = new Set<Channel>()
  private readonly users = new Map<string, Set<Connection>>()
  readonly connections = new Set<Connection>()
  /** Called when a channel joins, so the change feed stops idling. */
  onJoin: () => void = () => {}
  /** Called with true when the first channel joins and with false when the last one leaves. */
  onChannels: (any: boolean) => void = () => {}

  private sessionCheck: Promise<void> | undefined
  private recheck = false

  constructor(
    readonly store: RealtimeStore,
    private readonly verifyToken: TokenVerifier,
    readonly limits: Limits,
    readonly log: Log,
  ) {}

  /**
   * A token's claims once its signature, expiry and session hold: a user token whose session has
   * ended (signed out, revoked) is refused at once, as the functions refuse it (ADR 0009), though
   * hosted Realtime would take it until it expires. Tokens with no session (API keys) are judged by
   * their signature alone.
   */
  async verify(token: string): Promise<Claims> {
    const claims = await this.verifyToken(token)
    const session = sessionOf(claims)
    if (session === null) return claims
    if (!session || (await this.store.endedSessions([session])).size) {
      throw new TokenError('InvalidJWTToken', SESSION_ENDED)
    }
    return claims
  }

  /**
   * Closes every channel whose token's session has ended, with the system message hosted Realtime
   * sends when a token stops being valid. One query for all the sessions on this server.
   */
  closeEndedSessions(): Promise<void> {
    if (this.sessionCheck) {
      // Asked again mid-check (a sign-out just happened): check once more when this one is done.
      this.recheck = true
      return this.sessionCheck
    }
    this.sessionCheck = (async () => {
      do {
        this.recheck = false
        await this.checkSessions()
      } while (this.recheck)
    })().finally(() => {
      this.sessionCheck = undefined
    })
    return this.sessionCheck
  }

  /** Resolves once no session check is running (before the store closes). */
  async sessionChecksDone(): Promise<void> {
    await this.sessionCheck?.catch(() => {})
  }

  private async checkSessions(): Promise<void> {
    const channels = [...this.connections].flatMap((connection) => [...connection.channels.values()])
    const sessions = new Map<string, { id: string; userId: string }>()
    for (const channel of channels) {
      const session = sessionOf(channel.claims)
      if (session) sessions.set(session.id, session)
    }
    let ended: Set<string>
    try {
      ended = await this.store.endedSessions([...sessions.values()])
    } catch (error) {
      this.log(`session check failed: ${(error as Error).message}`)
      return
    }
    // Judged by the token each channel holds now: one refreshed while the check ran goes on.
    for (const channel of channels) {
      const session = sessionOf(channel.claims)
      if (session === undefined || (session && ended.has(session.id))) channel.shutdown(SESSION_ENDED)
    }
  }

  get channelCount(): number {
    let count = 0
    for (const channels of this.topics.values()) count += channels.size
    return count
  }

  add(channel: Channel): void {
    const channels = this.topics.get(channel.key) ?? new Set<Channel>()
    this.topics.set(channel.key, channels)
    channels.add(channel)
    if (channel.changes.length) this.changeListeners.add(channel)
    if (this.channelCount === 1) this.onChannels(true)
    this.onJoin()
  }

  remove(channel: Channel): void {
    const channels = this.topics.get(channel.key)
    const removed = channels?.delete(channel) ?? false
    if (channels?.size === 0) this.topics.delete(channel.key)
    this.changeListeners.delete(channel)
    if (removed && this.channelCount === 0) this.onChannels(false)
  }

  /** Counts `connection` as one of `sub`'s sockets; false when that would pass the limit. */
  claimUser(sub: string, connection: Connection): boolean {
    const connections = this.users.get(sub) ?? new Set<Connection>()
    this.users.set(sub, connections)
    if (connections.has(connection)) return true
    if (connections.size >= this.limits.maxConnectionsPerUser) return false
    connections.add(connection)
    return true
  }

  releaseUser(sub: string, connection: Connection): void {
    const connections = this.users.get(sub)
    connections?.delete(connection)
    if (connections?.size === 0) this.users.delete(sub)
  }

  /** Sends a broadcast to every channel on the topic that may read it, `except` the sender. */
  broadcast(key: string, broadcast: Broadcast, except?: Channel): void {
    const channels = this.topics.get(key)
    if (!channels) return
    const frames = new Map<Vsn, string | Uint8Array | null>()
    for (const channel of channels) {
      if (channel === except || channel.policies.broadcastRead === false) continue
      const vsn = channel.connection.vsn
      let frame = frames.get(vsn)
      if (frame === undefined) {
        frame = broadcastFrame(channel.topic, broadcast, vsn)
        frames.set(vsn, frame)
      }
      if (frame !== null) channel.connection.send(frame)
    }
  }

  presenceDiff(key: string, diff: PresenceDiff): void {
    for (const channel of this.topics.get(key) ?? []) {
      if (channel.receivesPresence) channel.push('presence_diff', diff, null)
    }
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The session a token belongs to: null when it names none (API keys, legacy tokens), undefined
 * when what it names cannot be a session of its user (so none is live), else the ids to look up.
 */
function sessionOf(claims: Claims): { id: string; userId: string } | null | undefined {
  const id = claims.session_id
  if (id === undefined || id === null) return null
  if (typeof id !== 'string' || !UUID.test(id) || typeof claims.sub !== 'string' || !UUID.test(claims.sub)) {
    return undefined
  }
  return { id: id.toLowerCase(), userId: claims.sub }
}

function broadcastFrame(topic: string, broadcast: Broadcast, vsn: Vsn): string | Uint8Array | null {
  const { event, encoding, payload, meta } = broadcast
  if (broadcast.form === 'user' && vsn === '2.0.0')
    return encodeUserBroadcast(topic, event, encoding, payload, meta)
  // vsn 1.0.0 cannot carry binary payloads, so those are not sent to it.
  if (encoding === 'binary') return null
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(payload))
  } catch {
    return null
  }
  const body = { type: 'broadcast', event, payload: parsed, ...(meta ? { meta } : {}) }
  return encodeMessage({ joinRef: null, ref: null, topic, event: 'broadcast', payload: body }, vsn)
}
