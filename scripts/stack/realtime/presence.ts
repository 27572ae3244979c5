import { randomBytes } from 'node:crypto'

/** One tracked presence: the client's payload plus Phoenix's `phx_ref` (and `phx_ref_prev` on update). */
export type Meta = Record<string, unknown> & { phx_ref: string; phx_ref_prev?: string }
export type PresenceState = Record<string, { metas: Meta[] }>
export interface PresenceDiff {
  joins: PresenceState
  leaves: PresenceState
}

interface Entry {
  key: string
  meta: Meta
}

/**
 * Phoenix.Presence for one server: per topic, at most one entry per tracking channel, grouped by
 * presence key in `presence_state`, changes announced as `presence_diff`.
 */
export class PresenceRegistry<Tracker> {
  private readonly topics = new Map<string, Map<Tracker, Entry>>()

  /** Tracks or updates `tracker`'s presence; null when the payload did not change. */
  track(topic: string, tracker: Tracker, key: string, payload: Record<string, unknown>): PresenceDiff | null {
    const entries = this.topics.get(topic) ?? new Map<Tracker, Entry>()
    this.topics.set(topic, entries)
    const previous = entries.get(tracker)
    if (previous && previous.key === key && samePayload(previous.meta, payload)) return null
    const meta: Meta = { ...payload, phx_ref: ref() }
    if (previous && previous.key === key) meta.phx_ref_prev = previous.meta.phx_ref
    entries.set(tracker, { key, meta })
    const diff: PresenceDiff = { joins: { [key]: { metas: [meta] } }, leaves: {} }
    if (previous) diff.leaves[previous.key] = { metas: [previous.meta] }
    return diff
  }

  untrack(topic: string, tracker: Tracker): PresenceDiff | null {
    const entries = this.topics.get(topic)
    const previous = entries?.get(tracker)
    if (!entries || !previous) return null
    entries.delete(tracker)
    if (entries.size === 0) this.topics.delete(topic)
    return { joins: {}, leaves: { [previous.key]: { metas: [previous.meta] } } }
  }

  state(topic: string): PresenceState {
    const state: PresenceState = {}
    for (const { key, meta } of this.topics.get(topic)?.values() ?? []) {
      if (!state[key]) state[key] = { metas: [] }
      state[key].metas.push(meta)
    }
    return state
  }
}

function ref(): string {
  return randomBytes(12).toString('base64url')
}

function samePayload(meta: Meta, payload: Record<string, unknown>): boolean {
  const { phx_ref: _ref, phx_ref_prev: _prev, ...tracked } = meta
  return JSON.stringify(tracked) === JSON.stringify(payload)
}
