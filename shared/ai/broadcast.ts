import { env, loadConfig } from '../config.ts'

// A run's output on the conversation's private Realtime channel `conversation:{id}`, through
// Realtime's REST broadcast API (POST /realtime/v1/api/broadcast) with the user's own token, so
// Realtime checks the same RLS policy on realtime.messages that lets only the conversation's owner
// join (ADR 0025). No database transaction per token: text deltas are gathered and sent at most
// every `intervalMs`, in order, one request at a time.

export type RunEvent =
  | 'run_started'
  | 'token'
  | 'tool_call'
  | 'tool_result'
  | 'delegated'
  | 'approval_required'
  | 'run_resumed'
  | 'run_finished'
  | 'run_failed'

export interface BroadcastMessage {
  event: RunEvent
  payload: Record<string, unknown>
}

/** Where broadcasts go; a test (or another transport) may stand in for Realtime's REST API. */
export type BroadcastTransport = (topic: string, messages: BroadcastMessage[]) => Promise<void>

/** Realtime's REST broadcast, as the user: private messages the user may not send are dropped by Realtime. */
export function realtimeRest(accessToken: string): BroadcastTransport {
  const url = `${loadConfig().supabaseUrl}/realtime/v1/api/broadcast`
  const apikey = env('SUPABASE_ANON_KEY') ?? accessToken
  return async (topic, messages) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { apikey, authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        messages: messages.map(({ event, payload }) => ({ topic, event, payload, private: true })),
      }),
      signal: AbortSignal.timeout(10_000),
    })
    await response.body?.cancel()
    if (!response.ok) throw new Error(`Realtime broadcast answered ${response.status}`)
  }
}

/**
 * One run's broadcasts, numbered (`seq`) in the order they were made. `token` gathers text until
 * the next send; every other event first sends the text gathered before it, in the same request.
 * A failed broadcast is logged and does not stop the run: the stored messages are the record.
 */
export class RunBroadcaster {
  private seq: number
  private text = ''
  private timer: ReturnType<typeof setTimeout> | undefined
  private queue: BroadcastMessage[] = []
  private sending: Promise<void> = Promise.resolve()
  /** When the last token event was made. */
  private lastSent = 0
  /** How many requests went out (benchmarks, tests). */
  requests = 0

  constructor(
    private readonly conversationId: string,
    private readonly runId: string,
    private readonly transport: BroadcastTransport,
    private readonly intervalMs = 50,
    /** Where numbering starts: a resumed run's events follow the ones before its pause. */
    firstSeq = 0,
  ) {
    this.seq = firstSeq
  }

  /** The `seq` the next event other than a token gets (text gathered so far is sent before it). */
  nextSeq(): number {
    return this.seq + (this.text ? 1 : 0)
  }

  get topic(): string {
    return `conversation:${this.conversationId}`
  }

  /** A text delta of the answer: sent with others at most every `intervalMs`. */
  token(delta: string): void {
    if (!delta) return
    this.text += delta
    if (this.timer) return
    const wait = Math.max(0, this.lastSent + this.intervalMs - Date.now())
    this.timer = setTimeout(() => this.flush(), wait)
  }

  /** Any other event, after the text gathered so far. */
  send(event: Exclude<RunEvent, 'token'>, payload: Record<string, unknown>): void {
    this.takeText()
    this.queue.push({ event, payload: { run_id: this.runId, seq: this.seq++, ...payload } })
    this.drain()
  }

  /** Resolves once everything made so far has been sent (or has failed). */
  async settled(): Promise<void> {
    this.takeText()
    this.drain()
    let last: Promise<void> | undefined
    while (last !== this.sending) {
      last = this.sending
      await last
    }
  }

  private flush(): void {
    this.takeText()
    this.drain()
  }

  private takeText(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (!this.text) return
    // The next token event comes at least `intervalMs` after this one.
    this.lastSent = Date.now()
    this.queue.push({ event: 'token', payload: { run_id: this.runId, seq: this.seq++, text: this.text } })
    this.text = ''
  }

  private drain(): void {
    if (this.queue.length === 0) return
    this.sending = this.sending.then(async () => {
      const batch = this.queue
      this.queue = []
      if (batch.length === 0) return
      this.requests++
      try {
        await this.transport(this.topic, batch)
      } catch (error) {
        console.error(
          JSON.stringify({ level: 'warn', run_id: this.runId, broadcast: 'failed', error: String(error) }),
        )
      }
    })
  }
}
