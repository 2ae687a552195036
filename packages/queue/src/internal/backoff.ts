/** Exponential backoff settings: attempt 1 waits about `initial`, each next `factor` times longer, capped at `max`. */
export interface Backoff {
  readonly initial: number
  readonly factor: number
  readonly max: number
  /** The delay is multiplied by a random factor in `[1 - jitter, 1 + jitter]`. */
  readonly jitter: number
}

/** The delay before retry number `attempt` (1-based), with jitter, never below 0. */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(backoff.max, backoff.initial * backoff.factor ** Math.max(0, attempt - 1))
  const spread = 1 + backoff.jitter * (2 * random() - 1)
  return Math.max(0, Math.round(base * spread))
}
