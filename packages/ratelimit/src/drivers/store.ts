import type { Outcome } from '../algorithms'

/** One decision of a store, with the time (µs, the store's clock) it was made at. */
export interface StoreOutcome extends Outcome {
  readonly nowUs: number
}

/**
 * Where a limiter's state lives: Redis (shared by every instance) or this process's memory. The
 * algorithm and its parameters are fixed when the store is made.
 */
export interface Store {
  /** Spends `cost` units of `key` if they are there, after adding `carry` units spent elsewhere. */
  take(key: string, cost: number, carry: number): Promise<StoreOutcome>
}
