import WebSocket from 'ws'
import { Waitable } from './realtime-client.ts'
import { stack } from './stack.ts'

export interface TextFrame {
  kind: 'text'
  joinRef: string | null
  ref: string | null
  topic: string
  event: string
  // biome-ignore lint/suspicious/noExplicitAny: whatever JSON the server sent, read by the tests as they expect it
  payload: any
}

/** A frame as the socket received it: a V2 JSON array or V1 object, or the bytes of a binary frame. */
export type Frame = TextFrame | { kind: 'binary'; bytes: Buffer }

/**
 * A bare Phoenix socket for the protocol details supabase-js hides: frames exactly as sent and
 * received, binary frames included.
 */
export class RawSocket extends Waitable {
  readonly frames: Frame[] = []
  readonly ws: WebSocket
  private ref = 0
  closeCode: number | undefined

  private constructor(
    url: string,
    readonly vsn: '1.0.0' | '2.0.0',
  ) {
    super()
    this.ws = new WebSocket(url)
    this.ws.on('message', (data, isBinary) => {
      const bytes = Buffer.from(data as Buffer)
      if (isBinary) this.frames.push({ kind: 'binary', bytes })
      else {
        const parsed = JSON.parse(bytes.toString())
        const [joinRef, ref, topic, event, payload] = Array.isArray(parsed)
          ? parsed
          : [parsed.join_ref, parsed.ref, parsed.topic, parsed.event, parsed.payload]
        this.frames.push({ kind: 'text', joinRef, ref, topic, event, payload })
      }
      this.notify()
    })
    this.ws.on('close', (code) => {
      this.closeCode = code
      this.notify()
    })
  }

  static async open(
    baseUrl: string,
    vsn: '1.0.0' | '2.0.0' = '2.0.0',
    apikey = stack.anonKey,
  ): Promise<RawSocket> {
    const url = `${baseUrl.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${apikey}&vsn=${vsn}`
    const socket = new RawSocket(url, vsn)
    await new Promise<void>((resolve, reject) => {
      socket.ws.once('open', () => resolve())
      socket.ws.once('error', reject)
    })
    return socket
  }

  nextRef(): string {
    return String(++this.ref)
  }

  /** Sends a text message and returns its ref. */
  push(
    topic: string,
    event: string,
    payload: unknown,
    joinRef: string | null = null,
    ref = this.nextRef(),
  ): string {
    const message =
      this.vsn === '2.0.0'
        ? [joinRef, ref, topic, event, payload]
        : { join_ref: joinRef, ref, topic, event, payload }
    this.ws.send(JSON.stringify(message))
    return ref
  }

  /** Joins and returns the join ref once the reply is ok. */
  async join(topic: string, payload: Record<string, unknown> = { config: {} }): Promise<string> {
    // As phoenix.js does, the join's own ref is its join ref, which the channel's messages carry.
    const ref = this.nextRef()
    this.push(topic, 'phx_join', payload, ref, ref)
    const reply = await this.reply(ref)
    if (reply.payload.status !== 'ok') throw new Error(`join ${topic}: ${JSON.stringify(reply.payload)}`)
    return ref
  }

  /** The phx_reply to the message with this ref. */
  reply(ref: string): Promise<TextFrame> {
    return this.next(
      (f): f is TextFrame => f.kind === 'text' && f.event === 'phx_reply' && f.ref === ref,
      `the reply to ref ${ref}`,
    )
  }

  next<T extends Frame>(predicate: (frame: Frame) => frame is T, what: string): Promise<T>
  next(predicate: (frame: Frame) => boolean, what: string): Promise<Frame>
  next(predicate: (frame: Frame) => boolean, what: string): Promise<Frame> {
    return this.waitFor(
      () => this.frames.find(predicate),
      () => what,
    )
  }

  /** Resolves with the close code once the server has closed the socket. */
  closed(): Promise<number> {
    return this.waitFor(
      () => this.closeCode,
      () => 'the socket to close',
    )
  }

  close(): void {
    this.ws.terminate()
  }
}

/** A kind 3 frame, as realtime-js encodes a client broadcast. */
export function userBroadcastPush(
  joinRef: string,
  ref: string,
  topic: string,
  event: string,
  payload: Buffer,
  json = true,
): Buffer {
  const fields = [joinRef, ref, topic, event, ''].map((s) => Buffer.from(s))
  return Buffer.concat([Buffer.from([3, ...fields.map((f) => f.length), json ? 1 : 0]), ...fields, payload])
}

/** Reads a kind 4 frame, as realtime-js decodes a server broadcast. */
export function readUserBroadcast(bytes: Buffer) {
  const [kind, topicSize, eventSize, metaSize, encoding] = bytes
  const metaStart = 5 + topicSize + eventSize
  const topic = bytes.subarray(5, 5 + topicSize).toString()
  const event = bytes.subarray(5 + topicSize, metaStart).toString()
  const meta = bytes.subarray(metaStart, metaStart + metaSize).toString()
  return {
    kind,
    topic,
    event,
    meta: meta ? JSON.parse(meta) : undefined,
    json: encoding === 1,
    payload: bytes.subarray(metaStart + metaSize),
  }
}
