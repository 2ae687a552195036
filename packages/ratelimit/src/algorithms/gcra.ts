import type { Model, Params, Step } from './types'

/**
 * GCRA: the key's state is its theoretical arrival time (TAT, µs), the time at which it would be
 * back to a full allowance. A request of `cost` units is allowed when, after it, the TAT is no more
 * than `burst` intervals ahead of now; the TAT then moves `cost` intervals on. So an idle key takes
 * `burst` units at once, then one per interval, and any window of one period sees at most
 * `limit + burst` units.
 */
export const gcra: Model<number> = {
  step(state, nowUs, cost, carry, p): Step<number> {
    const t = p.intervalUs
    const ceiling = nowUs + p.burst * t
    let tat = state === undefined ? nowUs : Math.max(state, nowUs)
    if (carry > 0) tat += Math.round(carry * t)
    const next = tat + cost * t
    const allowed = next <= ceiling
    const stored = allowed ? next : tat
    const outcome = {
      allowed,
      remaining: Math.max(0, Math.floor((ceiling - stored) / t)),
      resetAfterUs: stored - nowUs,
      retryAfterUs: allowed ? 0 : next - ceiling,
      emptyForUs: Math.max(0, stored + t - ceiling),
    }
    const ttlUs = stored - nowUs
    return { state: ttlUs > 0 ? stored : undefined, ttlUs, outcome }
  },
}

/** GCRA's parameters from a limit per period and a burst, in µs. */
export function gcraParams(limit: number, periodMs: number, burst: number): Params {
  const periodUs = periodMs * 1000
  return { limit, periodUs, burst, intervalUs: Math.max(1, Math.round(periodUs / limit)) }
}
