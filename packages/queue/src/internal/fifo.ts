/**
 * A FIFO with O(1) `shift` (an array plus a head index, compacted as it drains): `Array#shift` is
 * O(n) on large arrays, and a publish buffer holds thousands of messages.
 */
export class Fifo<T> {
  #items: T[] = []
  #head = 0

  get length(): number {
    return this.#items.length - this.#head
  }

  push(item: T): void {
    this.#items.push(item)
  }

  peek(): T | undefined {
    return this.#items[this.#head]
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined
    const item = this.#items[this.#head]
    this.#head += 1
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  /** Puts `items` back at the front, in their order. */
  unshiftAll(items: readonly T[]): void {
    this.#items = [...items, ...this.#items.slice(this.#head)]
    this.#head = 0
  }

  /** Keeps only the items `keep` accepts (O(n); for rare clean-ups). */
  filter(keep: (item: T) => boolean): void {
    this.#items = this.#items.slice(this.#head).filter(keep)
    this.#head = 0
  }

  /** The items, front first (a copy). */
  toArray(): T[] {
    return this.#items.slice(this.#head)
  }
}
