import { LRUCache } from 'lru-cache'

/** An entry in the in-process tier; times are this process's clock (ms). */
export interface L1Entry {
  value: unknown
  /** Version as stored in Redis (0 when there is no Redis). */
  ver: number
  /** Creation time in the clock tag invalidations use (Redis's when Redis is on). */
  created: number
  freshUntil: number
  staleUntil: number
  tags: readonly string[]
  /** How long the factory took (ms), for early refresh. */
  delta: number
  /** The bus epoch the entry was verified in; an entry of an older epoch may have missed an invalidation. */
  epoch: number
  /** Encoded size in bytes, counted against `maxBytes`. */
  size: number
}

/**
 * The in-process tier: an LRU bounded both by entry count and by the encoded bytes of its values,
 * so a flood of random keys evicts old ones instead of growing the heap.
 */
export class L1 {
  readonly #lru: LRUCache<string, L1Entry>

  constructor(limits: { maxEntries: number; maxBytes: number }) {
    this.#lru = new LRUCache<string, L1Entry>({
      max: limits.maxEntries,
      maxSize: limits.maxBytes,
      // Keys and entry bookkeeping cost memory too: count a fixed overhead per entry.
      sizeCalculation: (entry, key) => entry.size + key.length * 2 + 128,
    })
  }

  get(key: string): L1Entry | undefined {
    return this.#lru.get(key)
  }

  set(key: string, entry: L1Entry): void {
    this.#lru.set(key, entry)
  }

  delete(key: string): void {
    this.#lru.delete(key)
  }

  clear(): void {
    this.#lru.clear()
  }

  get size(): number {
    return this.#lru.size
  }

  /** Bytes counted against `maxBytes`. */
  get bytes(): number {
    return this.#lru.calculatedSize
  }
}
