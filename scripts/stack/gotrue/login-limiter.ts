import { AuthError } from './errors.ts'

export interface LoginLimits {
  /** How long a failed login counts. */
  windowSeconds: number
  /**
   * Per client address, as GoTrue limits sign-ins: past `slowAfter` failures in the window each
   * attempt from it waits `delayMs` first, past `blockAfter` it is refused with 429 until enough
   * failures age out. Generous: everyone behind one proxy (or on localhost) shares an address.
   */
  perAddress: { slowAfter: number; blockAfter: number }
  /**
   * Per email: past `slowAfter` failures in the window each further wrong password is answered only
   * after a delay, doubling from `delayMs` up to `maxDelayMs`. Never a refusal, and the right
   * password is answered at once: someone else's guesses must not lock an account.
   */
  perEmail: { slowAfter: number }
  delayMs: number
  maxDelayMs: number
}

export const defaultLoginLimits: LoginLimits = {
  windowSeconds: 300,
  perAddress: { slowAfter: 30, blockAfter: 100 },
  perEmail: { slowAfter: 3 },
  delayMs: 500,
  maxDelayMs: 4000,
}

/** Past this many tracked keys, keys whose failures have all aged out are dropped. */
const SWEEP_AT = 10_000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Counts failed password logins per client address and per email in a sliding window, in memory,
 * so passwords cannot be guessed at speed: an address is slowed and then refused, a guessed-at
 * email only has its wrong answers slowed.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>()

  constructor(
    private readonly limits: LoginLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Refuses (429, with Retry-After) or delays an attempt from `address`, as its failures warrant. */
  async admit(address: string): Promise<void> {
    const { slowAfter, blockAfter } = this.limits.perAddress
    const times = this.recent(`address:${address}`)
    if (times.length >= blockAfter) {
      // Allowed again once enough failures leave the window to drop below the limit.
      const freedAt = times[times.length - blockAfter] + this.limits.windowSeconds * 1000
      throw new AuthError(429, 'over_request_rate_limit', 'Request rate limit reached', {
        retryAfterSeconds: Math.max(1, Math.ceil((freedAt - this.now()) / 1000)),
      })
    }
    if (times.length >= slowAfter) await sleep(this.limits.delayMs)
  }

  /** Counts a wrong password for `email` from `address`; resolves when the wrong answer may go out. */
  async failed(email: string, address: string): Promise<void> {
    if (this.failures.size >= SWEEP_AT) this.sweep()
    this.record(`address:${address}`, this.limits.perAddress.blockAfter)
    const { slowAfter } = this.limits.perEmail
    const count = this.record(`email:${email}`, slowAfter + 32)
    if (count <= slowAfter) return
    const { delayMs, maxDelayMs } = this.limits
    await sleep(Math.min(maxDelayMs, delayMs * 2 ** (count - slowAfter - 1)))
  }

  /** A correct password clears its email's count; the address's stays, or one account could launder it. */
  succeeded(email: string): void {
    this.failures.delete(`email:${email}`)
  }

  /** Adds a failure now, keeping at most the last `keep`; returns how many are in the window. */
  private record(key: string, keep: number): number {
    const times = [...this.recent(key), this.now()].slice(-Math.max(1, keep))
    this.failures.set(key, times)
    return times.length
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
