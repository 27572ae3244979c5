/**
 * Phoenix socket frames as realtime-js speaks them. vsn 2.0.0: text frames are JSON arrays
 * `[join_ref, ref, topic, event, payload]`; a client broadcast arrives as a binary "user broadcast
 * push" (kind 3) and a broadcast may leave as a binary "user broadcast" (kind 4). vsn 1.0.0: JSON
 * objects only.
 */

export type Vsn = '1.0.0' | '2.0.0'
export type Ref = string | null
export type Encoding = 'json' | 'binary'

export interface Message {
  joinRef: Ref
  ref: Ref
  topic: string
  event: string
  payload: unknown
}

/** A client broadcast in binary form: the user payload stays as bytes until it is relayed. */
export interface BroadcastPush {
  joinRef: Ref
  ref: Ref
  topic: string
  event: string
  encoding: Encoding
  payload: Uint8Array
}

export type Incoming = { kind: 'message'; message: Message } | { kind: 'broadcast'; push: BroadcastPush }

const USER_BROADCAST_PUSH = 3
const USER_BROADCAST = 4
const decoder = new TextDecoder('utf-8', { fatal: true })
const encoder = new TextEncoder()

export class FrameError extends Error {}

export function decodeText(text: string, vsn: Vsn): Incoming {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new FrameError('frame is not JSON')
  }
  if (vsn === '2.0.0') {
    if (!Array.isArray(parsed) || parsed.length < 5) throw new FrameError('expected a V2 array')
    const [joinRef, ref, topic, event, payload] = parsed
    return { kind: 'message', message: checked({ joinRef, ref, topic, event, payload }) }
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new FrameError('expected a V1 object')
  const { join_ref, ref, topic, event, payload } = parsed as Record<string, unknown>
  return { kind: 'message', message: checked({ joinRef: join_ref, ref, topic, event, payload }) }
}

function checked(m: {
  joinRef: unknown
  ref: unknown
  topic: unknown
  event: unknown
  payload: unknown
}): Message {
  const refOk = (r: unknown) =>
    r === null || r === undefined || typeof r === 'string' || typeof r === 'number'
  if (typeof m.topic !== 'string' || typeof m.event !== 'string' || !refOk(m.joinRef) || !refOk(m.ref)) {
    throw new FrameError('malformed message')
  }
  const ref = (r: unknown): Ref => (r === null || r === undefined ? null : String(r))
  return {
    joinRef: ref(m.joinRef),
    ref: ref(m.ref),
    topic: m.topic,
    event: m.event,
    payload: m.payload ?? {},
  }
}

/** kind 3: kind, lengths of join_ref, ref, topic, event, metadata, encoding, then those and the payload. */
export function decodeBinary(bytes: Uint8Array): Incoming {
  if (bytes.length < 7 || bytes[0] !== USER_BROADCAST_PUSH) throw new FrameError('unsupported binary frame')
  const lengths = [bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]]
  const encoding = bytes[6] === 0 ? 'binary' : 'json'
  let offset = 7
  const fields: string[] = []
  for (const length of lengths) {
    if (offset + length > bytes.length) throw new FrameError('truncated binary frame')
    try {
      fields.push(decoder.decode(bytes.subarray(offset, offset + length)))
    } catch {
      throw new FrameError('binary frame header is not UTF-8')
    }
    offset += length
  }
  const [joinRef, ref, topic, event] = fields
  return {
    kind: 'broadcast',
    push: {
      joinRef: joinRef || null,
      ref: ref || null,
      topic,
      event,
      encoding,
      payload: bytes.subarray(offset),
    },
  }
}

export function encodeMessage(message: Message, vsn: Vsn): string {
  const { joinRef, ref, topic, event, payload } = message
  if (vsn === '2.0.0') return JSON.stringify([joinRef, ref, topic, event, payload])
  return JSON.stringify({ join_ref: joinRef, ref, topic, event, payload })
}

/** kind 4: kind, lengths of topic, event, metadata, encoding, then those and the payload. */
export function encodeUserBroadcast(
  topic: string,
  event: string,
  encoding: Encoding,
  payload: Uint8Array,
  metadata?: Record<string, unknown>,
): Uint8Array {
  const parts = [topic, event, metadata ? JSON.stringify(metadata) : ''].map((s) => encoder.encode(s))
  for (const part of parts)
    if (part.length > 255) throw new FrameError('broadcast header field over 255 bytes')
  const header = 5 + parts.reduce((sum, part) => sum + part.length, 0)
  const frame = new Uint8Array(header + payload.length)
  frame.set([USER_BROADCAST, parts[0].length, parts[1].length, parts[2].length, encoding === 'json' ? 1 : 0])
  let offset = 5
  for (const part of parts) {
    frame.set(part, offset)
    offset += part.length
  }
  frame.set(payload, offset)
  return frame
}
