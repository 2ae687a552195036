/**
 * Exponential backoff: retry `n` waits `min(max, initial × factor^(n−1))`, less a random share of
 * up to `jitter` of it, so instances that failed together do not retry together.
 */
export interface Backoff {
  /** The delay before the first retry, in ms. */
  readonly initial: number
  /** How much longer each next delay is. */
  readonly factor: number
  /** No delay is longer than this, in ms. */
  readonly max: number
  /** The share of each delay that is random, in [0, 1]: 0 waits exactly, 1 is "full jitter" (uniform in [0, delay]). */
  readonly jitter: number
}

/** The delay in whole ms before retry number `attempt` (1 = the first retry) under `backoff`. */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.max, backoff.initial * backoff.factor ** Math.max(0, attempt - 1))
  return Math.max(0, Math.round(ceiling * (1 - backoff.jitter * random())))
}
