import type { RawData, WebSocket } from 'ws'
import { Channel } from './channel.ts'
import {
  decodeBinary,
  decodeText,
  encodeMessage,
  FrameError,
  type Incoming,
  type Message,
  type Vsn,
} from './frames.ts'
import type { Hub } from './hub.ts'

/** Messages queued beyond this pause reading from the socket until the queue drains. */
const MAX_QUEUED = 256

/** One client WebSocket: the Phoenix socket that routes frames to its channels, one at a time. */
export class Connection {
  readonly channels = new Map<string, Channel>()
  /** Channels per user (`sub`) on this socket, for the per-user connection limit. */
  private readonly users = new Map<string, number>()
  private queue: Promise<void> = Promise.resolve()
  private queued = 0
  lastSeen = Date.now()

  constructor(
    readonly hub: Hub,
    private readonly ws: WebSocket,
    readonly vsn: Vsn,
    /** The `apikey` the socket connected with: the token of channels that bring none. */
    readonly apiKey: string,
  ) {
    hub.connections.add(this)
    ws.on('message', (data, isBinary) => this.enqueue(data, isBinary))
    ws.on('close', () => this.closed())
    ws.on('error', () => ws.terminate())
  }

  encode(message: Message): string {
    return encodeMessage(message, this.vsn)
  }

  /** Sends a frame, dropping the socket instead if it is not keeping up. */
  send(frame: string | Uint8Array): void {
    if (!this.isOpen) return
    if (this.ws.bufferedAmount > this.hub.limits.maxBufferedBytes) {
      this.hub.log(`dropping a slow consumer with ${this.ws.bufferedAmount} bytes unsent`)
      this.ws.terminate()
      return
    }
    this.ws.send(frame)
  }

  get isOpen(): boolean {
    return this.ws.readyState === this.ws.OPEN
  }

  /** A phx_reply to the message `to` (its join ref, ref and topic). */
  reply(to: Pick<Message, 'joinRef' | 'ref' | 'topic'>, status: 'ok' | 'error', response: unknown): void {
    const { joinRef, ref, topic } = to
    this.send(this.encode({ joinRef, ref, topic, event: 'phx_reply', payload: { status, response } }))
  }

  /** Counts a channel of user `sub` on this socket; false when the socket would pass the user's limit. */
  holdUser(sub: string): boolean {
    const count = this.users.get(sub) ?? 0
    if (count === 0 && !this.hub.claimUser(sub, this)) return false
    this.users.set(sub, count + 1)
    return true
  }

  releaseUser(sub: string): void {
    const count = (this.users.get(sub) ?? 0) - 1
    if (count > 0) {
      this.users.set(sub, count)
    } else {
      this.users.delete(sub)
      this.hub.releaseUser(sub, this)
    }
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason)
  }

  terminate(): void {
    this.ws.terminate()
  }

  private enqueue(data: RawData, isBinary: boolean): void {
    this.lastSeen = Date.now()
    if (++this.queued >= MAX_QUEUED) this.ws.pause()
    this.queue = this.queue
      .then(() => this.handle(data, isBinary))
      .catch((error: unknown) => this.hub.log(`message failed: ${(error as Error).stack ?? error}`))
      .finally(() => {
        if (--this.queued === 0) this.ws.resume()
      })
  }

  private async handle(data: RawData, isBinary: boolean): Promise<void> {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)
    let incoming: Incoming
    try {
      incoming = isBinary ? decodeBinary(bytes) : decodeText(bytes.toString('utf8'), this.vsn)
    } catch (error) {
      if (!(error instanceof FrameError)) throw error
      this.ws.close(1007, error.message)
      return
    }
    if (incoming.kind === 'broadcast') {
      const { push } = incoming
      const channel = this.channels.get(push.topic)
      if (!channel) {
        this.reply(push, 'error', { reason: 'unmatched topic' })
        return
      }
      const { event, encoding, payload } = push
      await channel.broadcast({ form: 'user', event, encoding, payload }, push.ref)
      return
    }
    await this.route(incoming.message)
  }

  private async route(message: Message): Promise<void> {
    const { topic, event } = message
    if (topic === 'phoenix' && event === 'heartbeat') {
      this.reply(message, 'ok', {})
      return
    }
    if (event === 'phx_join') {
      if (!topic.startsWith('realtime:')) {
        this.reply(message, 'error', { reason: 'unmatched topic' })
        return
      }
      // A second join of a topic replaces the first, as Phoenix does.
      const existing = this.channels.get(topic)
      if (existing) existing.shutdown()
      await Channel.join(this, message)
      return
    }
    const channel = this.channels.get(topic)
    if (!channel) {
      this.reply(
        message,
        event === 'phx_leave' ? 'ok' : 'error',
        event === 'phx_leave' ? {} : { reason: 'unmatched topic' },
      )
      return
    }
    switch (event) {
      case 'phx_leave':
        this.reply(message, 'ok', {})
        channel.shutdown()
        break
      case 'broadcast':
        await this.jsonBroadcast(channel, message)
        break
      case 'presence':
        await channel.presence(message)
        break
      case 'access_token':
        await channel.refreshToken(message.payload)
        break
      default:
        // Hosted Realtime ignores (and logs) anything else a client pushes.
        break
    }
  }

  /** A broadcast pushed as JSON text (vsn 1.0.0, or a payload the binary form cannot carry). */
  private async jsonBroadcast(channel: Channel, message: Message): Promise<void> {
    const payload = message.payload as Record<string, unknown>
    const event = typeof payload?.event === 'string' ? payload.event : ''
    const body = Buffer.from(JSON.stringify(payload?.payload ?? {}))
    await channel.broadcast({ form: 'json', event, encoding: 'json', payload: body }, message.ref)
  }

  private closed(): void {
    for (const channel of [...this.channels.values()]) channel.close()
    this.hub.connections.delete(this)
  }
}
