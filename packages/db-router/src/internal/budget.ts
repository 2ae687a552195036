/** A token bucket: at most `perSecond` takes per second, bursts up to one second's worth. */
export class RateBudget {
  readonly #perSecond: number
  #tokens: number
  #at: number

  constructor(perSecond: number) {
    this.#perSecond = perSecond
    this.#tokens = perSecond
    this.#at = Date.now()
  }

  /** Takes one token; false when the budget is spent. */
  take(): boolean {
    if (this.#perSecond === Number.POSITIVE_INFINITY) return true
    const now = Date.now()
    this.#tokens = Math.min(this.#perSecond, this.#tokens + ((now - this.#at) / 1000) * this.#perSecond)
    this.#at = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}
