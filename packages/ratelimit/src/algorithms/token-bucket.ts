import type { Model, Step } from './types'

/** A token bucket's state: the tokens it held at `at` (µs). */
export interface Bucket {
  readonly tokens: number
  readonly at: number
}

/**
 * A token bucket of `burst` tokens refilled by one every interval: the same limit as GCRA, kept as
 * a level and a time (as most token-bucket libraries keep it), for apps that migrate from one.
 */
export const tokenBucket: Model<Bucket> = {
  step(state, nowUs, cost, carry, p): Step<Bucket> {
    const t = p.intervalUs
    let tokens = p.burst
    if (state !== undefined) tokens = Math.min(p.burst, state.tokens + (nowUs - state.at) / t)
    if (carry > 0) tokens -= carry
    const allowed = tokens >= cost
    if (allowed) tokens -= cost
    const resetAfterUs = Math.ceil((p.burst - tokens) * t)
    const outcome = {
      allowed,
      remaining: Math.max(0, Math.floor(tokens)),
      resetAfterUs,
      retryAfterUs: allowed ? 0 : Math.ceil((cost - tokens) * t),
      emptyForUs: tokens < 1 ? Math.ceil((1 - tokens) * t) : 0,
    }
    return { state: resetAfterUs > 0 ? { tokens, at: nowUs } : undefined, ttlUs: resetAfterUs, outcome }
  },
}
