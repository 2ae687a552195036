/** A key known to be empty: until when (local µs), and when it is full again (local µs). */
interface Block {
  readonly untilUs: number
  readonly resetUs: number
}

/**
 * The local fast path: keys Redis said were empty, until the time it gave. Other instances can only
 * spend more of a key, never refill it faster, so a key empty until T stays empty until T: a request
 * for it before T is denied here, without a round trip. Bounded like the memory store.
 */
export class Blocks {
  readonly #blocks = new Map<string, Block>()
  readonly #maxKeys: number

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys
  }

  /** The block of `key` still in force at `nowUs`, if any. */
  get(key: string, nowUs: number): Block | undefined {
    const block = this.#blocks.get(key)
    if (block === undefined) return undefined
    if (block.untilUs > nowUs) return block
    this.#blocks.delete(key)
    return undefined
  }

  set(key: string, untilUs: number, resetUs: number): void {
    this.#blocks.delete(key)
    this.#blocks.set(key, { untilUs, resetUs })
    if (this.#blocks.size > this.#maxKeys) {
      const oldest = this.#blocks.keys().next()
      if (oldest.done !== true) this.#blocks.delete(oldest.value)
    }
  }

  clear(): void {
    this.#blocks.clear()
  }
}
