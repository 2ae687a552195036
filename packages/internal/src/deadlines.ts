/** A registered deadline; `cancel()` once the work it bounds has settled. */
export interface Deadline {
  cancel(): void
}

class Entry implements Deadline {
  /** The list this entry is linked in; undefined once it fired or was cancelled. */
  list: Pending | undefined
  prev: Entry | undefined = undefined
  next: Entry | undefined = undefined

  constructor(
    list: Pending,
    readonly at: number,
    readonly onExpire: () => void,
  ) {
    this.list = list
  }

  cancel(): void {
    this.list?.remove(this)
  }
}

/**
 * The pending deadlines, linked through the entries in the order they were added. Not a `Set`: with
 * an add and a delete per call, a long-lived `Set` made V8 promote the objects of every call in
 * flight on each scavenge, which cost more than the rest of a db-router read (benchmarks/README.md,
 * db-router); linked through the entries, nothing is promoted.
 */
class Pending {
  head: Entry | undefined = undefined
  tail: Entry | undefined = undefined
  size = 0

  push(entry: Entry): void {
    entry.prev = this.tail
    if (this.tail === undefined) this.head = entry
    else this.tail.next = entry
    this.tail = entry
    this.size += 1
  }

  /** Unlinks `entry`; false if it was not linked (fired or cancelled already). */
  remove(entry: Entry): boolean {
    if (entry.list !== this) return false
    const { prev, next } = entry
    if (prev === undefined) this.head = next
    else prev.next = next
    if (next === undefined) this.tail = prev
    else next.prev = prev
    entry.list = undefined
    entry.prev = undefined
    entry.next = undefined
    this.size -= 1
    return true
  }

  /** The entries in order, as an array: what a sweep walks while callbacks may cancel or add. */
  toArray(): Entry[] {
    const all: Entry[] = []
    for (let e = this.head; e !== undefined; e = e.next) all.push(e)
    return all
  }

  clear(): void {
    for (const e of this.toArray()) this.remove(e)
  }
}

/**
 * One timer for many deadlines, instead of a `setTimeout` per call: while deadlines are pending it
 * sweeps every tenth of the shortest timeout in use (2 ms to 250 ms), so a deadline fires no earlier
 * than asked and at most one period later. It stops itself when nothing is pending and never keeps
 * the process alive.
 */
export class DeadlineSweep {
  readonly #entries = new Pending()
  #timer: NodeJS.Timeout | undefined
  #every = Number.POSITIVE_INFINITY

  /** How many deadlines are pending. */
  get size(): number {
    return this.#entries.size
  }

  /** Calls `onExpire` once `ms` have passed, unless cancelled first. */
  add(ms: number, onExpire: () => void): Deadline {
    const entry = new Entry(this.#entries, Date.now() + ms, onExpire)
    this.#entries.push(entry)
    this.#arm(ms)
    return entry
  }

  /**
   * Settles like `promise`, or rejects with `onTimeout()` once `ms` have passed. The promise runs on
   * either way; a late rejection of it is observed, so it never becomes an unhandled one.
   */
  race<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const deadline = this.add(ms, () => {
        reject(onTimeout())
      })
      promise.then(
        (value) => {
          deadline.cancel()
          resolve(value)
        },
        (error: unknown) => {
          deadline.cancel()
          // The promise's own rejection reason goes on unchanged, whatever it is.
          const fail: (reason: unknown) => void = reject
          fail(error)
        },
      )
    })
  }

  /**
   * Calls every pending deadline's `onExpire` now, in the order they were added, and stops the
   * timer: for a shutdown that gives up on what is still in flight.
   */
  expireAll(): void {
    for (const entry of this.#entries.toArray()) {
      if (this.#entries.remove(entry)) entry.onExpire()
    }
    // A callback may have added a deadline: the timer runs on for it.
    if (this.#entries.size === 0) this.#stop()
  }

  /** Drops every pending deadline without calling it, and stops the timer. */
  clear(): void {
    this.#entries.clear()
    this.#stop()
  }

  #arm(ms: number): void {
    const every = Math.min(250, Math.max(2, Math.floor(ms / 10)))
    if (this.#timer !== undefined && every >= this.#every) return
    clearInterval(this.#timer)
    this.#every = every
    this.#timer = setInterval(() => {
      this.#sweep()
    }, every)
    this.#timer.unref()
  }

  #sweep(): void {
    const now = Date.now()
    // The due ones first: a callback may cancel (or add) other entries while they are called.
    const due: Entry[] = []
    for (let entry = this.#entries.head; entry !== undefined; entry = entry.next) {
      if (entry.at <= now) due.push(entry)
    }
    for (const entry of due) {
      if (this.#entries.remove(entry)) entry.onExpire()
    }
    if (this.#entries.size === 0) this.#stop()
  }

  #stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#every = Number.POSITIVE_INFINITY
  }
}
