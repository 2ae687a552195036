import { sleep } from '@scalekit/internal'
import type { QueueRecord, QueuedOp, StoredDeadLetter, WriteBehindStore } from './store'

/** Dead letters kept in memory mode; the oldest are dropped beyond it so a failing store cannot exhaust memory. */
export const MEMORY_DEAD_LETTER_LIMIT = 10_000

/**
 * The in-process store, the default of a cache without Redis: an array of records and those handed out but not acknowledged. Lives and
 * dies with the process: NOT crash-safe.
 */
export class MemoryStore implements WriteBehindStore {
  #seq = 0
  #deadSeq = 0
  /** Not handed out yet, in order. */
  #queue: QueueRecord[] = []
  /** Handed out, not acknowledged; a Map keeps insertion (= id) order. */
  readonly #inFlight = new Map<string, QueueRecord>()
  #dead: StoredDeadLetter[] = []
  /** Aborted by `wake()`: ends the `take()` that waits for an append. */
  #waiting: AbortController | undefined

  append(op: QueuedOp): Promise<void> {
    this.#seq += 1
    this.#queue.push({ ...op, id: String(this.#seq), queuedAt: Date.now() })
    this.wake()
    return Promise.resolve()
  }

  begin(): Promise<void> {
    this.#queue = [...this.#inFlight.values(), ...this.#queue]
    this.#inFlight.clear()
    return Promise.resolve()
  }

  async take(count: number, waitMs: number): Promise<QueueRecord[]> {
    if (this.#queue.length === 0 && waitMs > 0) await this.#waitForAppend(waitMs)
    const taken = this.#queue.splice(0, count)
    for (const record of taken) this.#inFlight.set(record.id, record)
    return taken
  }

  ack(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.#inFlight.delete(id)
    return Promise.resolve()
  }

  deadLetter(
    ops: readonly QueuedOp[],
    ids: readonly string[],
    reason: string,
    attempts: number,
  ): Promise<void> {
    for (const op of ops) {
      this.#deadSeq += 1
      this.#dead.push({
        key: op.key,
        deleted: op.deleted,
        encoded: op.encoded,
        id: String(this.#deadSeq),
        reason,
        attempts,
      })
    }
    if (this.#dead.length > MEMORY_DEAD_LETTER_LIMIT) this.#dead = this.#dead.slice(-MEMORY_DEAD_LETTER_LIMIT)
    return this.ack(ids)
  }

  mark(): Promise<string | undefined> {
    return Promise.resolve(this.#seq === 0 ? undefined : String(this.#seq))
  }

  drained(mark: string): Promise<boolean> {
    const oldest = this.#inFlight.values().next().value ?? this.#queue[0]
    return Promise.resolve(oldest === undefined || Number(oldest.id) > Number(mark))
  }

  wake(): void {
    const waiting = this.#waiting
    this.#waiting = undefined
    waiting?.abort()
  }

  deadLetters(limit: number): Promise<StoredDeadLetter[]> {
    return Promise.resolve(this.#dead.slice(0, limit))
  }

  size(): Promise<number> {
    return Promise.resolve(this.#queue.length + this.#inFlight.size)
  }

  close(): Promise<void> {
    this.wake()
    return Promise.resolve()
  }

  async #waitForAppend(ms: number): Promise<void> {
    const waiting = new AbortController()
    this.#waiting = waiting
    // With no timeout (an idle queue), sleep() waits for the signal alone: nothing keeps the process alive.
    await sleep(ms, waiting.signal)
  }
}

/**
 * A store in this process's memory: what a cache without Redis uses. NOT crash-safe (what is
 * queued dies with the process); at most {@link MEMORY_DEAD_LETTER_LIMIT} dead letters are kept.
 */
export function createMemoryStore(): WriteBehindStore {
  return new MemoryStore()
}
