/** A registered deadline; `cancel()` once the work it bounds has settled. */
export interface Deadline {
  cancel(): void
}

class Entry implements Deadline {
  constructor(
    readonly entries: Set<Entry>,
    readonly at: number,
    readonly onExpire: () => void,
  ) {}

  cancel(): void {
    this.entries.delete(this)
  }
}

/**
 * One timer for many deadlines, instead of a `setTimeout` per call: while deadlines are pending it
 * sweeps every tenth of the shortest timeout in use (2 ms to 250 ms), so a deadline fires no earlier
 * than asked and at most one period later. It stops itself when nothing is pending and never keeps
 * the process alive.
 */
export class DeadlineSweep {
  readonly #entries = new Set<Entry>()
  #timer: NodeJS.Timeout | undefined
  #every = Number.POSITIVE_INFINITY

  /** How many deadlines are pending. */
  get size(): number {
    return this.#entries.size
  }

  /** Calls `onExpire` once `ms` have passed, unless cancelled first. */
  add(ms: number, onExpire: () => void): Deadline {
    const entry = new Entry(this.#entries, Date.now() + ms, onExpire)
    this.#entries.add(entry)
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
    for (const entry of this.#entries) {
      if (entry.at > now) continue
      this.#entries.delete(entry)
      entry.onExpire()
    }
    if (this.#entries.size === 0) this.#stop()
  }

  #stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#every = Number.POSITIVE_INFINITY
  }
}
