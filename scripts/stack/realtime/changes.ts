import type { Channel } from './channel.ts'
import type { ChangeSubscription } from './filters.ts'
import { type Hub, topicKey } from './hub.ts'
import type { CapturedChange, Subscriber, Visible } from './store.ts'

export interface PollOptions {
  /** Poll interval while changes keep coming. */
  minIntervalMs: number
  /** The interval grows to this while nothing happens. */
  maxIntervalMs: number
  /** With no channel joined anywhere, the feed only moves its cursor, this often. */
  idleIntervalMs: number
  batchSize: number
}

export const DEFAULT_POLL: PollOptions = {
  minIntervalMs: 10,
  maxIntervalMs: 50,
  idleIntervalMs: 500,
  batchSize: 256,
}

/** Captured rows stay this long so that every server on the database has seen them. */
const RETENTION_SECONDS = 60
const WAKE_GAP_MS = 2
const PRUNE_EVERY_MS = 10_000
const encoder = new TextEncoder()

/**
 * Reads the outbox the capture triggers fill and delivers it in order: realtime.messages
 * broadcasts to their topic, row changes as postgres_changes to the subscribers the database says
 * may see them.
 */
export class ChangeFeed {
  /**
   * Where reading stands: every row of a transaction older than `low` (a horizon, see
   * store.readChanges) has been read; of the younger ones, those in `delivered` (id → txid). On a
   * server where transactions overlap, a row with a lower id may commit after one with a higher
   * id, so reading by id alone would skip it; a row is read once it is visible, and remembered
   * until the horizon passes its transaction.
   */
  private low = '0'
  private readonly delivered = new Map<number, bigint>()
  private interval: number
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private stopped = false
  private waiting = false
  /** A commit was heard while a poll ran: poll again as soon as it is done. */
  private wokenWhileRunning = false
  private lastPrune = Date.now()
  private lastPollAt = 0

  constructor(
    private readonly hub: Hub,
    private readonly options: PollOptions,
  ) {
    this.interval = options.minIntervalMs
  }

  async start(): Promise<void> {
    await this.hub.store.syncCapture()
    // What committed before the server started is not delivered, as on hosted Realtime.
    this.low = await this.hub.store.horizon()
    this.schedule(0)
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.running
  }

  /**
   * Polls soon if the feed is waiting and someone listens: a channel has just joined, or a
   * transaction may have committed (the embedded database's hint that a client's turn ended,
   * which its own polls end too). Polls at most every WAKE_GAP_MS however often it is woken.
   */
  wake(): void {
    if (this.waiting && this.hub.channelCount > 0) {
      this.schedule(Math.max(0, this.lastPollAt + WAKE_GAP_MS - Date.now()))
    }
  }

  /**
   * A transaction that captured changes has committed (its notification on `realtime_local`):
   * as wake(), and if a poll is running, whose snapshot may predate the commit, another follows.
   */
  committed(): void {
    if (this.waiting) this.wake()
    else if (this.hub.channelCount > 0) this.wokenWhileRunning = true
  }

  private schedule(delay: number): void {
    if (this.stopped) return
    clearTimeout(this.timer)
    this.waiting = true
    this.timer = setTimeout(() => {
      this.waiting = false
      this.wokenWhileRunning = false
      this.running = this.tick()
        .catch((error: unknown) => {
          this.hub.log(`change feed: ${(error as Error).message}`)
          return undefined
        })
        .then((next) => {
          const woken = this.wokenWhileRunning
          this.wokenWhileRunning = false
          this.schedule(woken ? WAKE_GAP_MS : (next ?? this.options.maxIntervalMs))
        })
    }, delay)
  }

  /** One poll; answers how long to wait before the next. */
  private async tick(): Promise<number> {
    const { store } = this.hub
    this.lastPollAt = Date.now()
    if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = Date.now()
      await store.pruneChanges(RETENTION_SECONDS)
    }
    if (this.hub.channelCount === 0) {
      const horizon = await store.horizon()
      // A channel that joined while that query ran may already be waiting for one of those rows.
      if (this.hub.channelCount === 0) {
        this.low = horizon
        this.delivered.clear()
        return this.options.idleIntervalMs
      }
    }
    const { horizon, changes } = await store.readChanges(
      this.low,
      [...this.delivered.keys()],
      this.options.batchSize,
    )
    for (const change of changes) {
      if (this.stopped) return 0
      this.delivered.set(change.id, BigInt(change.txid))
      if (change.type === 'BROADCAST') this.deliverBroadcast(change)
      else await this.deliverChange(change)
    }
    if (changes.length === this.options.batchSize) return 0
    // Read to the end: every row of a transaction below this snapshot's horizon has been read.
    this.low = horizon
    const below = BigInt(horizon)
    for (const [id, txid] of this.delivered) if (txid < below) this.delivered.delete(id)
    this.interval = changes.length
      ? this.options.minIntervalMs
      : Math.min(this.options.maxIntervalMs, Math.ceil(this.interval * 1.5))
    return this.interval
  }

  /** realtime.send(): delivered with the message id in `meta`, as hosted Realtime does. */
  private deliverBroadcast(change: CapturedChange): void {
    const message = change.message
    if (!message || typeof message.topic !== 'string') return
    const payload = encoder.encode(JSON.stringify(message.payload ?? {}))
    if (payload.length > this.hub.limits.maxPayloadBytes) return
    this.hub.broadcast(topicKey(message.private !== false, message.topic), {
      form: 'user',
      event: message.event ?? '',
      encoding: 'json',
      payload,
      meta: { id: message.id },
    })
  }

  private async deliverChange(change: CapturedChange): Promise<void> {
    const bindings = new Map<string, { channel: Channel; subscription: ChangeSubscription }>()
    const subscribers: Subscriber[] = []
    for (const channel of this.hub.changeListeners) {
      channel.changes.forEach((subscription, index) => {
        if (!matches(subscription, change)) return
        const id = `${channel.uid}:${index}`
        bindings.set(id, { channel, subscription })
        subscribers.push({ id, claims: channel.claims, filters: subscription.filters })
      })
    }
    if (subscribers.length === 0) return
    const visible = await this.hub.store.fanout(change.id, subscribers)
    for (const part of visible) {
      // One message per channel (and column selection), naming every binding it satisfies.
      const messages = new Map<string, { channel: Channel; select: string[] | null; ids: number[] }>()
      for (const id of part.subscriberIds) {
        const binding = bindings.get(id)
        if (!binding || binding.channel.isClosed) continue
        const { channel, subscription } = binding
        const key = `${channel.uid}|${subscription.select?.join(',') ?? ''}`
        const entry = messages.get(key) ?? { channel, select: subscription.select, ids: [] }
        if (!entry.ids.includes(subscription.id)) entry.ids.push(subscription.id)
        messages.set(key, entry)
      }
      for (const { channel, select, ids } of messages.values()) {
        channel.push('postgres_changes', { ids, data: changeData(change, part, select) }, null)
      }
    }
  }
}

function matches(subscription: ChangeSubscription, change: CapturedChange): boolean {
  return (
    (subscription.action === '*' || subscription.action === change.type) &&
    (subscription.schema === '*' || subscription.schema === change.schema) &&
    (subscription.table === '*' || subscription.table === change.table)
  )
}

/** The `data` of a postgres_changes event; INSERT has no old_record and DELETE no record, as hosted. */
function changeData(change: CapturedChange, part: Visible, select: string[] | null): Record<string, unknown> {
  const keep = select ? new Set([...select, ...part.primaryKey]) : null
  const pick = (row: Record<string, unknown> | null) =>
    row && keep ? Object.fromEntries(Object.entries(row).filter(([k]) => keep.has(k))) : row
  const data: Record<string, unknown> = {
    schema: change.schema,
    table: change.table,
    commit_timestamp: change.commitTimestamp.toISOString(),
    type: change.type,
    columns: keep ? part.columns.filter((c) => keep.has(c.name)) : part.columns,
  }
  if (change.type !== 'DELETE') data.record = pick(part.record)
  if (change.type !== 'INSERT') data.old_record = pick(part.oldRecord)
  data.errors = null
  return data
}
