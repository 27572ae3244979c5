import { randomUUID } from 'node:crypto'
import type { Connection } from './connection.ts'
import {
  type ChangeSubscription,
  parseSubscription,
  SubscriptionParamsError,
  subscriptionId,
} from './filters.ts'
import { type Broadcast, topicKey } from './hub.ts'
import type { Message, Ref } from './frames.ts'
import { type Claims, TokenError } from './tokens.ts'

/**
 * RLS verdicts on realtime.messages for a private channel (all null on a public one). Reads are
 * decided at join; writes on first use, as hosted Realtime does.
 */
export interface Policies {
  broadcastRead: boolean | null
  presenceRead: boolean | null
  broadcastWrite: boolean | null
  presenceWrite: boolean | null
}

/** Hosted Realtime re-confirms a token at least this often, and when it expires. */
const CONFIRM_TOKEN_MS = 5 * 60_000

class JoinError extends Error {}

let nextUid = 1

/** One joined `realtime:<name>` topic on one socket: RealtimeWeb.RealtimeChannel's behaviour. */
export class Channel {
  /** Names this channel's postgres_changes subscribers server-wide. */
  readonly uid = nextUid++
  readonly subTopic: string
  readonly key: string
  readonly policies: Policies = {
    broadcastRead: null,
    presenceRead: null,
    broadcastWrite: null,
    presenceWrite: null,
  }
  changes: ChangeSubscription[] = []
  private expiryTimer: NodeJS.Timeout | undefined
  private closed = false

  private constructor(
    readonly connection: Connection,
    readonly topic: string,
    readonly joinRef: Ref,
    readonly isPrivate: boolean,
    readonly self: boolean,
    readonly ack: boolean,
    public presenceEnabled: boolean,
    readonly presenceKey: string,
    public token: string,
    public claims: Claims,
  ) {
    this.subTopic = topic.slice('realtime:'.length)
    this.key = topicKey(isPrivate, this.subTopic)
  }

  /**
   * Joins, or answers the join with an error. Replies in hosted Realtime's order: the reply (with
   * the postgres_changes ids in request order), then presence_state, then the `system` message
   * about the postgres_changes subscriptions.
   */
  static async join(connection: Connection, message: Message): Promise<void> {
    const { topic, joinRef } = message
    const payload = isObject(message.payload) ? message.payload : {}
    const config = isObject(payload.config) ? payload.config : {}
    const broadcast = isObject(config.broadcast) ? config.broadcast : {}
    const presence = isObject(config.presence) ? config.presence : {}
    const hub = connection.hub
    let sub: string | undefined
    try {
      if (topic === 'realtime:') throw new JoinError('TopicNameRequired: You must provide a topic name')
      if (connection.channels.size >= hub.limits.maxChannelsPerConnection) {
        throw new JoinError('ChannelRateLimitReached: Too many channels')
      }
      const offered = payload.access_token ?? payload.user_token
      const token = typeof offered === 'string' && !offered.startsWith('sb_') ? offered : connection.apiKey
      const claims = await hub.verify(token)
      sub = typeof claims.sub === 'string' ? claims.sub : undefined
      if (sub && !connection.holdUser(sub)) {
        sub = undefined
        throw new JoinError('ConnectionRateLimitReached: Too many connected users')
      }
      const presenceKey =
        typeof presence.key === 'string' && presence.key !== '' ? presence.key : randomUUID()
      const channel = new Channel(
        connection,
        topic,
        joinRef,
        config.private === true,
        broadcast.self === true,
        broadcast.ack === true,
        presence.enabled === true,
        presenceKey,
        token,
        claims,
      )
      if (channel.isPrivate) await channel.authorizeRead()
      const changeErrors = await channel.subscribeChanges(config.postgres_changes)
      const options = isObject(config.postgres_changes_options) ? config.postgres_changes_options : {}
      if (changeErrors.length && options.wait === true) throw new JoinError(changeErrors[0])
      // The client may have gone while the join waited on the database.
      if (!connection.isOpen) throw new JoinError('Connection closed')

      connection.channels.set(topic, channel)
      hub.add(channel)
      connection.reply(message, 'ok', { postgres_changes: replyIds(config.postgres_changes) })
      if (channel.receivesPresence) channel.push('presence_state', hub.presence.state(channel.key))
      if (changeErrors.length) {
        for (const error of changeErrors) channel.system('postgres_changes', 'error', error)
      } else if (channel.changes.length) {
        channel.system('postgres_changes', 'ok', 'Subscribed to PostgreSQL')
      }
      channel.scheduleTokenCheck()
    } catch (error) {
      if (sub) connection.releaseUser(sub)
      let reason = 'Unknown Error on Channel'
      if (error instanceof TokenError) reason = error.reason
      else if (error instanceof JoinError) reason = error.message
      else hub.log(`join failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
      connection.reply(message, 'error', { reason })
    }
  }

  /** Private channels: may these claims read broadcasts (and presence) here? One must be allowed. */
  private async authorizeRead(): Promise<void> {
    const extensions = this.presenceEnabled ? ['broadcast', 'presence'] : ['broadcast']
    let allowed: Set<string>
    try {
      allowed = await this.connection.hub.store.readable(this.subTopic, this.claims, extensions)
    } catch (error) {
      this.connection.hub.log(`read policy check failed on ${this.subTopic}: ${(error as Error).message}`)
      allowed = new Set()
    }
    this.policies.broadcastRead = allowed.has('broadcast')
    this.policies.presenceRead = this.presenceEnabled ? allowed.has('presence') : null
    if (!this.policies.broadcastRead && !this.policies.presenceRead) {
      throw new JoinError(
        `Unauthorized: You do not have permissions to read from this Channel topic: ${this.subTopic}`,
      )
    }
  }

  /** Parses and checks each postgres_changes entry; the ones that fail are reported, not joined. */
  private async subscribeChanges(entries: unknown): Promise<string[]> {
    if (!Array.isArray(entries)) return []
    const errors: string[] = []
    for (const entry of entries) {
      if (entry === null || entry === undefined) continue
      try {
        const subscription = parseSubscription(entry)
        const { schema, table, filters, select } = subscription
        const problem = await this.connection.hub.store.subscriptionError(
          schema,
          table,
          filters,
          this.claims.role,
          select,
        )
        if (problem) {
          errors.push(
            'Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given ' +
              `connect parameters: [${describe(entry)}]. Error: ${problem}`,
          )
        } else {
          this.changes.push(subscription)
        }
      } catch (error) {
        if (!(error instanceof SubscriptionParamsError)) throw error
        errors.push(error.message)
      }
    }
    return errors
  }

  get receivesPresence(): boolean {
    return this.presenceEnabled && (!this.isPrivate || this.policies.presenceRead === true)
  }

  push(event: string, payload: unknown, joinRef: Ref = this.joinRef): void {
    this.connection.send(this.connection.encode({ joinRef, ref: null, topic: this.topic, event, payload }))
  }

  system(extension: string, status: 'ok' | 'error', message: string): void {
    this.push('system', { extension, status, message, channel: this.subTopic })
  }

  /** A client broadcast: checked, relayed to the topic, acknowledged when the channel asked for it. */
  async broadcast(broadcast: Broadcast, ref: Ref): Promise<void> {
    if (this.isPrivate && !(await this.mayWrite('broadcast'))) return
    if (this.closed) return
    const to = { joinRef: this.joinRef, ref, topic: this.topic }
    if (broadcast.payload.length > this.connection.hub.limits.maxPayloadBytes) {
      if (this.ack) this.connection.reply(to, 'error', { reason: 'Payload size exceeded' })
      return
    }
    this.connection.hub.broadcast(this.key, broadcast, this.self ? undefined : this)
    if (this.ack) this.connection.reply(to, 'ok', {})
  }

  /** `presence` pushes: track (or update) and untrack. */
  async presence(message: Message): Promise<void> {
    const payload = isObject(message.payload) ? message.payload : {}
    const event = typeof payload.event === 'string' ? payload.event.toLowerCase() : ''
    const hub = this.connection.hub
    if (event === 'track') {
      if (this.isPrivate && !(await this.mayWrite('presence'))) {
        this.connection.reply(message, 'error', {})
        return
      }
      // The channel may have been left while the policy was checked.
      if (this.closed) return
      const tracked = payload.payload ?? {}
      if (!isObject(tracked)) {
        this.connection.reply(message, 'error', { reason: 'Presence track payload must be a map' })
        return
      }
      if (Buffer.byteLength(JSON.stringify(tracked)) > hub.limits.maxPayloadBytes) {
        this.shutdown('Track message size exceeded')
        return
      }
      const diff = hub.presence.track(this.key, this, this.presenceKey, tracked)
      this.presenceEnabled = true
      if (diff) hub.presenceDiff(this.key, diff)
      this.connection.reply(message, 'ok', {})
    } else if (event === 'untrack') {
      const diff = hub.presence.untrack(this.key, this)
      if (diff) hub.presenceDiff(this.key, diff)
      this.connection.reply(message, 'ok', {})
    } else {
      this.connection.reply(message, 'error', {})
    }
  }

  /** Probes write access once per token; a track also settles presence read if join left it open. */
  private async mayWrite(extension: 'broadcast' | 'presence'): Promise<boolean> {
    const field = extension === 'broadcast' ? 'broadcastWrite' : 'presenceWrite'
    if (this.policies[field] === null) {
      const store = this.connection.hub.store
      try {
        const allowed = await store.writable(this.subTopic, this.claims, ['broadcast', 'presence'])
        this.policies.broadcastWrite = allowed.has('broadcast')
        this.policies.presenceWrite = allowed.has('presence')
        if (extension === 'presence' && this.policies.presenceRead === null) {
          this.policies.presenceRead = (await store.readable(this.subTopic, this.claims, ['presence'])).has(
            'presence',
          )
        }
      } catch (error) {
        this.connection.hub.log(`write policy check failed on ${this.subTopic}: ${(error as Error).message}`)
        return false
      }
    }
    return this.policies[field] === true
  }

  /**
   * `access_token`: a new token is verified and the read policies checked again; a bad or expired
   * token, or one that lost read access, closes the channel.
   */
  async refreshToken(payload: unknown): Promise<void> {
    const token = isObject(payload) ? payload.access_token : undefined
    if (typeof token !== 'string' || token.startsWith('sb_') || token === this.token) return
    let claims: Claims
    try {
      claims = await this.connection.hub.verify(token)
    } catch (error) {
      if (!(error instanceof TokenError)) throw error
      this.shutdown(error.message)
      return
    }
    const sub = typeof claims.sub === 'string' ? claims.sub : undefined
    const previousSub = typeof this.claims.sub === 'string' ? this.claims.sub : undefined
    if (sub !== previousSub) {
      if (sub && !this.connection.holdUser(sub)) {
        this.shutdown('Too many connected users')
        return
      }
      if (previousSub) this.connection.releaseUser(previousSub)
    }
    const before = { ...this.policies }
    this.token = token
    this.claims = claims
    if (this.isPrivate) {
      this.policies.broadcastWrite = null
      this.policies.presenceWrite = null
      try {
        await this.authorizeRead()
      } catch {
        // Neither read allowed any more: that is the revoked case below.
      }
      if (
        (before.broadcastRead && !this.policies.broadcastRead) ||
        (before.presenceRead && !this.policies.presenceRead)
      ) {
        this.shutdown(`You no longer have permission to read from this Channel topic: ${this.subTopic}`)
        return
      }
    }
    this.scheduleTokenCheck()
  }

  /** Closes the channel when its token expires, checking at least every five minutes. */
  private scheduleTokenCheck(): void {
    clearTimeout(this.expiryTimer)
    const untilExpiry = this.claims.exp * 1000 - Date.now()
    this.expiryTimer = setTimeout(
      () => {
        this.connection.hub
          .verify(this.token)
          .then(() => this.scheduleTokenCheck())
          .catch((error: unknown) => {
            if (error instanceof TokenError) {
              this.shutdown(error.message)
              return
            }
            // The session could not be looked up (the database is busy or restarting): try again later.
            this.connection.hub.log(`token check failed on ${this.subTopic}: ${(error as Error).message}`)
            if (!this.closed) this.scheduleTokenCheck()
          })
      },
      Math.max(0, Math.min(CONFIRM_TOKEN_MS, untilExpiry + 1)),
    )
    this.expiryTimer.unref()
  }

  /** Server-side close: a `system` error saying why (when there is one to tell), then `phx_close`. */
  shutdown(message?: string): void {
    if (this.closed) return
    if (message) this.system('system', 'error', message)
    this.connection.send(
      this.connection.encode({
        joinRef: this.joinRef,
        ref: this.joinRef,
        topic: this.topic,
        event: 'phx_close',
        payload: {},
      }),
    )
    this.close()
  }

  /** Leaves the topic: untracks presence and frees the channel's slot and user count. */
  close(): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.expiryTimer)
    const hub = this.connection.hub
    const diff = hub.presence.untrack(this.key, this)
    hub.remove(this)
    if (this.connection.channels.get(this.topic) === this) this.connection.channels.delete(this.topic)
    if (typeof this.claims.sub === 'string') this.connection.releaseUser(this.claims.sub)
    if (diff) hub.presenceDiff(this.key, diff)
  }

  get isClosed(): boolean {
    return this.closed
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The join reply's postgres_changes: every entry in request order with its id, joined or not. */
function replyIds(entries: unknown): Array<Record<string, unknown>> {
  if (!Array.isArray(entries)) return []
  return entries.filter(isObject).map((entry) => ({ ...entry, id: subscriptionId(entry) }))
}

function describe(entry: unknown): string {
  if (!isObject(entry)) return String(entry)
  return ['event', 'schema', 'table', 'filter']
    .filter((k) => entry[k] !== undefined)
    .map((k) => `${k}: ${String(entry[k])}`)
    .join(', ')
}
