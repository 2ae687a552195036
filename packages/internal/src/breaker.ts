/** Where a {@link CircuitBreaker} stands: calls go through, fail fast, or one trial call is let through. */
export type BreakerState = 'closed' | 'open' | 'half-open'

/** The settings of a {@link CircuitBreaker}: opossum's options of the same names and meanings. */
export interface BreakerSettings {
  /** Share of failed calls in the rolling window, in percent, above which the breaker opens. */
  readonly errorThresholdPercentage: number
  /** How long an open breaker waits before it lets one trial call through (half-open), ms. */
  readonly resetTimeout: number
  /** Calls in the rolling window before the breaker may open at all. */
  readonly volumeThreshold: number
  /** The rolling window, ms. @default 10_000 */
  readonly rollingCountTimeout?: number
  /** How many slices the window moves by. @default 10 */
  readonly rollingCountBuckets?: number
}

/** The refusal of a call while the breaker is open: a plain `Error` with opossum's code, `EOPENBREAKER`. */
export class BreakerOpenError extends Error {
  readonly code = 'EOPENBREAKER'

  constructor() {
    super('Breaker is open')
    this.name = 'BreakerOpenError'
  }
}

/** The counts of one slice of the window. */
interface Bucket {
  fires: number
  failures: number
}

/**
 * A circuit breaker with opossum's semantics, for a caller that already has a completion of its own
 * to report from (a breaker that wrapped each call would add a promise per call):
 *
 * - `admit()` before a call, then `succeeded()` or `failed()` when it ends. What counts as a failure
 *   is the caller's choice (only the remote system's failures should).
 * - Closed: every call goes through. After a failure, if the rolling window holds at least
 *   `volumeThreshold` calls and more than `errorThresholdPercentage` % of them failed, it opens.
 * - Open: calls are refused (`admit()` returns false) for `resetTimeout`, then it turns half-open.
 * - Half-open: one trial call goes through, the others are refused; the trial's success closes it,
 *   its failure opens it again.
 * - Every `admit()` counts in the window, refused ones too, as opossum counts every `fire()`; the
 *   window is kept across state changes, as opossum keeps it.
 *
 * The window moves by slices of `rollingCountTimeout / rollingCountBuckets`, as opossum's, but
 * lazily (when a call is counted) rather than on a timer. The only timer is the reset timeout
 * (unref'd). `onChange` hears every state change, `close()` and the reset timeout's included.
 */
export class CircuitBreaker {
  readonly #settings: Required<BreakerSettings>
  readonly #onChange: (state: BreakerState) => void
  readonly #sliceMs: number
  readonly #buckets: Bucket[]
  /** The slice (`Date.now() / sliceMs`, rounded down) that `#buckets[0]` counts. */
  #slice = 0
  #state: BreakerState = 'closed'
  /** Half-open: the trial call went through and has not ended yet. */
  #trialInFlight = false
  #resetTimer: NodeJS.Timeout | undefined
  #shutdown = false

  constructor(settings: BreakerSettings, onChange: (state: BreakerState) => void = () => undefined) {
    this.#settings = { rollingCountTimeout: 10_000, rollingCountBuckets: 10, ...settings }
    this.#onChange = onChange
    const { rollingCountTimeout, rollingCountBuckets } = this.#settings
    this.#sliceMs = Math.max(1, Math.floor(rollingCountTimeout / rollingCountBuckets))
    this.#buckets = Array.from({ length: rollingCountBuckets }, () => ({ fires: 0, failures: 0 }))
  }

  get state(): BreakerState {
    return this.#state
  }

  /** True while open (not half-open): calls fail fast until the reset timeout. */
  get opened(): boolean {
    return this.#state === 'open'
  }

  get closed(): boolean {
    return this.#state === 'closed'
  }

  /**
   * Whether a call may go now; counts it either way. True when closed, or half-open with no trial
   * in flight (this call is then the trial). A caller given true reports the call's end once.
   */
  admit(): boolean {
    this.#current().fires += 1
    if (this.#state === 'closed') return true
    if (this.#state === 'half-open' && !this.#trialInFlight && !this.#shutdown) {
      this.#trialInFlight = true
      return true
    }
    return false
  }

  /** An admitted call ended well (or failed in a way that does not count): a half-open breaker closes. */
  succeeded(): void {
    if (this.#state === 'half-open') this.close()
  }

  /** An admitted call failed in a way that counts: the trial of a half-open breaker reopens it; a closed one may open. */
  failed(): void {
    this.#current().failures += 1
    if (this.#state === 'half-open') {
      this.#open()
      return
    }
    if (this.#state !== 'closed') return
    let fires = 0
    let failures = 0
    for (const b of this.#buckets) {
      fires += b.fires
      failures += b.failures
    }
    if (fires < this.#settings.volumeThreshold) return
    if ((failures / fires) * 100 > this.#settings.errorThresholdPercentage) this.#open()
  }

  /** Closes the breaker now (a node proven healthy by other means); nothing if it is closed. */
  close(): void {
    if (this.#state === 'closed') return
    clearTimeout(this.#resetTimer)
    this.#resetTimer = undefined
    this.#trialInFlight = false
    this.#state = 'closed'
    this.#onChange('closed')
  }

  /** Stops the reset timer; the breaker then stays as it is (an open one never turns half-open). */
  shutdown(): void {
    this.#shutdown = true
    clearTimeout(this.#resetTimer)
    this.#resetTimer = undefined
  }

  #open(): void {
    this.#state = 'open'
    this.#trialInFlight = false
    this.#onChange('open')
    if (this.#shutdown) return
    clearTimeout(this.#resetTimer)
    this.#resetTimer = setTimeout(() => {
      this.#resetTimer = undefined
      this.#state = 'half-open'
      this.#onChange('half-open')
    }, this.#settings.resetTimeout)
    this.#resetTimer.unref()
  }

  /** The bucket of now, after moving the window past the slices that have gone by. */
  #current(): Bucket {
    const slice = Math.floor(Date.now() / this.#sliceMs)
    const passed = slice - this.#slice
    if (passed > 0) {
      const buckets = this.#buckets
      // Newest first: shift the counts `passed` slices older, dropping what leaves the window.
      for (let i = buckets.length - 1; i >= 0; i--) {
        const from = buckets[i - passed]
        const b = buckets[i] as Bucket
        b.fires = from === undefined ? 0 : from.fires
        b.failures = from === undefined ? 0 : from.failures
      }
      this.#slice = slice
    }
    return this.#buckets[0] as Bucket
  }
}
