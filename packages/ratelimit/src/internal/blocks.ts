/** A key known to be empty: until when (local µs), when it is full again (local µs), and whether a probe is out. */
interface Block {
  readonly untilUs: number
  readonly resetUs: number
  /** The block ran out and one decision went to Redis to learn the key's state: the others wait for it. */
  probing: boolean
}

/** What the fast path says about a key now. */
export type BlockState =
  | { readonly kind: 'open' }
  | { readonly kind: 'empty'; readonly untilUs: number; readonly resetUs: number }
  | { readonly kind: 'probe' }

const OPEN: BlockState = { kind: 'open' }
const PROBE: BlockState = { kind: 'probe' }

/**
 * The local fast path: keys Redis said were empty, until the time it gave. Other instances can only
 * spend more of a key, never refill it faster, so a key empty until T stays empty until T: a request
 * for it before T is refused here, without a round trip. When T comes, with GCRA and the token
 * bucket, one request goes to Redis (the probe) and the others of this process are refused until it
 * answers — at T one unit frees up, which only one request can take. A window frees many units at
 * once (a fixed window all of them), so there every request goes to Redis again. Bounded like the
 * memory store.
 */
export class Blocks {
  readonly #blocks = new Map<string, Block>()
  readonly #maxKeys: number
  /** Whether one unit frees up at a time (GCRA, token bucket): then one probe is enough. A window frees many at once. */
  readonly #probe: boolean

  constructor(maxKeys: number, probe: boolean) {
    this.#maxKeys = maxKeys
    this.#probe = probe
  }

  /** Whether a request for `key` at `nowUs` may go to Redis (`open`), is refused (`empty`, `probe`). */
  check(key: string, nowUs: number): BlockState {
    const block = this.#blocks.get(key)
    if (block === undefined) return OPEN
    if (block.untilUs > nowUs) return { kind: 'empty', untilUs: block.untilUs, resetUs: block.resetUs }
    if (!this.#probe) {
      this.#blocks.delete(key)
      return OPEN
    }
    if (block.probing) return PROBE
    block.probing = true
    return OPEN
  }

  /** Redis said `key` is empty until `untilUs` (ends a probe). */
  set(key: string, untilUs: number, resetUs: number): void {
    this.#blocks.delete(key)
    this.#blocks.set(key, { untilUs, resetUs, probing: false })
    if (this.#blocks.size > this.#maxKeys) {
      const oldest = this.#blocks.keys().next()
      if (oldest.done !== true) this.#blocks.delete(oldest.value)
    }
  }

  /** Redis answered `key` with units to spare, or did not answer: the key is no longer known empty. */
  delete(key: string): void {
    this.#blocks.delete(key)
  }

  clear(): void {
    this.#blocks.clear()
  }
}
