import { performance } from 'node:perf_hooks'
import { type Algorithm, type Model, models, type Outcome, outstanding, type Params } from '../algorithms'
import type { Store, StoreOutcome } from './store'

/** This process's clock in whole µs (wall-clock based, sub-ms resolution). */
export function localNowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000)
}

/** A key's state and when it is empty again (µs). */
interface Entry {
  state: unknown
  expiresAtUs: number
}

/**
 * The in-memory store: the algorithm's model over a `Map`, the same decisions as the Redis script for
 * the same times. It holds at most `maxKeys` keys: past that, expired keys go first, then the keys
 * least recently updated (whose state is then forgotten: they start full again).
 */
export class MemoryStore implements Store {
  readonly #entries = new Map<string, Entry>()
  readonly #algorithm: Algorithm
  readonly #model: Model<unknown>
  readonly #params: Params
  readonly #maxKeys: number
  readonly #now: () => number
  /** The key set last: the newest in the map's order while it is in the map. */
  #newest: string | undefined

  constructor(algorithm: Algorithm, params: Params, maxKeys: number, now: () => number = localNowUs) {
    this.#algorithm = algorithm
    this.#model = models[algorithm]
    this.#params = params
    this.#maxKeys = maxKeys
    this.#now = now
  }

  get size(): number {
    return this.#entries.size
  }

  take(key: string, cost: number, carry: number): Promise<StoreOutcome> {
    const nowUs = this.#now()
    const o = this.#step(key, cost, carry, nowUs)
    return Promise.resolve({
      allowed: o.allowed,
      remaining: o.remaining,
      resetAfterUs: o.resetAfterUs,
      retryAfterUs: o.retryAfterUs,
      emptyForUs: o.emptyForUs,
      nowUs,
    })
  }

  /** `take` without the promise or the time: the limiter's memory and fallback decisions, made synchronously. */
  takeNow(key: string, cost: number, carry = 0): Outcome {
    return this.#step(key, cost, carry, this.#now())
  }

  #step(key: string, cost: number, carry: number, nowUs: number): Outcome {
    const entry = this.#entries.get(key)
    const live = entry !== undefined && entry.expiresAtUs > nowUs ? entry.state : undefined
    const step = this.#model.step(live, nowUs, cost, carry, this.#params)
    if (step.state !== undefined && entry !== undefined && key === this.#newest) {
      // Already last in the map's order: updated in place, so a hot key does not rebuild the map's
      // table on every decision (the rebuilt tables went to old space and forced full collections).
      entry.state = step.state
      entry.expiresAtUs = nowUs + step.ttlUs
      return step.outcome
    }
    // Delete then set: the map's order is the order of last update, oldest first (what eviction drops).
    this.#entries.delete(key)
    if (step.state !== undefined) {
      this.#entries.set(key, { state: step.state, expiresAtUs: nowUs + step.ttlUs })
      this.#newest = key
      if (this.#entries.size > this.#maxKeys) this.#evict(nowUs)
    }
    return step.outcome
  }

  /** Removes `key` and returns the units its state still counts as spent (0 when it has none). */
  drain(key: string): number {
    const entry = this.#entries.get(key)
    if (entry === undefined) return 0
    this.#entries.delete(key)
    const nowUs = this.#now()
    return entry.expiresAtUs > nowUs ? outstanding(this.#algorithm, entry.state, nowUs, this.#params) : 0
  }

  /** Forgets `key`. */
  delete(key: string): void {
    this.#entries.delete(key)
  }

  clear(): void {
    this.#entries.clear()
  }

  #evict(nowUs: number): void {
    // Expired keys among the oldest first (a bounded look: an insert never walks the whole map).
    let looked = 0
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxKeys || ++looked > 64) break
      if (entry.expiresAtUs <= nowUs) this.#entries.delete(key)
    }
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxKeys) return
      this.#entries.delete(key)
    }
  }
}
