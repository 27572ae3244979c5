import { AuthError } from './errors.ts'

export interface Thresholds {
  /** Failures within the window after which each further attempt waits `delayMs` first. */
  slowAfter: number
  /** Failures within the window after which attempts are refused with 429 until the oldest ages out. */
  blockAfter: number
}

export interface LoginLimits {
  windowSeconds: number
  delayMs: number
  perEmail: Thresholds
  /** Generous: everyone behind one proxy (or on localhost) shares an address. */
  perIp: Thresholds
}

export const defaultLoginLimits: LoginLimits = {
  windowSeconds: 300,
  delayMs: 500,
  perEmail: { slowAfter: 3, blockAfter: 10 },
  perIp: { slowAfter: 30, blockAfter: 100 },
}

/** Past this many tracked keys, keys whose failures have all aged out are dropped. */
const SWEEP_AT = 10_000

/**
 * Counts failed password logins per email and per client address in a sliding window, in memory,
 * slowing and then refusing further attempts so passwords cannot be guessed at speed.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>()

  constructor(
    private readonly limits: LoginLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Refuses (429, with Retry-After) or delays an attempt for `email` from `ip`, as their failures warrant. */
  async admit(email: string, ip: string): Promise<void> {
    let slow = false
    for (const [key, thresholds] of this.keys(email, ip)) {
      const times = this.recent(key)
      if (times.length >= thresholds.blockAfter) {
        // Allowed again once enough failures leave the window to drop below the limit.
        const freedAt = times[times.length - thresholds.blockAfter] + this.limits.windowSeconds * 1000
        throw new AuthError(429, 'over_request_rate_limit', 'Request rate limit reached', {
          retryAfterSeconds: Math.max(1, Math.ceil((freedAt - this.now()) / 1000)),
        })
      }
      slow ||= times.length >= thresholds.slowAfter
    }
    if (slow) await new Promise((resolve) => setTimeout(resolve, this.limits.delayMs))
  }

  recordFailure(email: string, ip: string): void {
    if (this.failures.size >= SWEEP_AT) this.sweep()
    for (const [key] of this.keys(email, ip)) this.failures.set(key, [...this.recent(key), this.now()])
  }

  /** A correct password clears its email's count; the address's stays, or one account could launder it. */
  recordSuccess(email: string): void {
    this.failures.delete(`email:${email}`)
  }

  private keys(email: string, ip: string): Array<[string, Thresholds]> {
    return [
      [`email:${email}`, this.limits.perEmail],
      [`ip:${ip}`, this.limits.perIp],
    ]
  }

  private recent(key: string): number[] {
    const since = this.now() - this.limits.windowSeconds * 1000
    const times = (this.failures.get(key) ?? []).filter((time) => time > since)
    if (times.length) this.failures.set(key, times)
    else this.failures.delete(key)
    return times
  }

  private sweep(): void {
    for (const key of [...this.failures.keys()]) this.recent(key)
  }
}
