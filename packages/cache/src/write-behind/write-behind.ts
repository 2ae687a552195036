import { randomUUID } from 'node:crypto'
import { CacheClosedError, CacheEncodeError, CacheError, CacheOptionsError } from '../errors'
import { sleep } from './backoff'
import { asError, messageOf } from './bounded'
import { Flusher } from './flusher'
import { RedisLease, soleLeader } from './leadership'
import type { Leadership } from './leadership'
import { MemoryQueueStore } from './memory-store'
import { resolveOptions, writeBehindDefaults } from './options'
import type { ResolvedOptions } from './options'
import { RedisQueueStore } from './redis-store'
import type { QueueStore, QueuedOp } from './store'
import type { WriteBehindDeadLetter, WriteBehindDeps, WriteBehindOptions, WriteBehindQueue } from './types'

/**
 * Creates a write-behind queue: `set()`/`delete()` resolve once the operation is queued, and a
 * background loop writes batches to the store of record through `options.write`, coalesced per key
 * (last operation wins), retried with backoff, dead-lettered after `maxAttempts`.
 *
 * - With `deps.redis`: crash-safe. Operations go to the stream `<keyPrefix>:stream`; the one
 *   instance holding the lease `<keyPrefix>:leader` reads it through a consumer group and
 *   acknowledges (XACK + XDEL) only after `write` succeeded, so an acknowledged `set()` survives a
 *   SIGKILL: the next leader claims the dead one's pending entries and writes them first. Writes
 *   reach the store in stream order, so it ends with the last value per key across instances, as
 *   long as a leader does not stall longer than `leaseMs` mid-write (a deposed leader's late write
 *   is not fenced). Delivery is at-least-once: a batch may be written twice, so `write` must be
 *   idempotent. Dead letters go to the stream `<keyPrefix>:dead`.
 * - Without: in memory. Same API and semantics, but NOT crash-safe: what is queued dies with the
 *   process, and with `close()` if its deadline passes (reported through `onError`); at most
 *   `MEMORY_DEAD_LETTER_LIMIT` (10 000) dead letters are kept.
 *
 * Background failures never reject anywhere: they are retried with backoff and passed to
 * `deps.onError`. `write` should bound its own duration: a batch is retried only once it settles.
 * Throws `CacheOptionsError` on invalid options.
 */
export function createWriteBehind<T>(options: WriteBehindOptions<T>, deps: WriteBehindDeps): WriteBehindQueue<T> {
  return new Queue<T>(resolveOptions(options, deps), deps)
}

class Queue<T> implements WriteBehindQueue<T> {
  readonly #options: ResolvedOptions<T>
  readonly #deps: WriteBehindDeps
  readonly #store: QueueStore
  readonly #lease: Leadership
  readonly #flusher: Flusher<T>
  readonly #stop = new AbortController()
  readonly #appending = new Set<Promise<void>>()
  readonly #loop: Promise<void>
  #closing: Promise<void> | undefined

  constructor(options: ResolvedOptions<T>, deps: WriteBehindDeps) {
    this.#options = options
    this.#deps = deps
    const report = (error: Error): void => {
      this.#report(error)
    }
    const { redis, keyPrefix, timeoutMs } = deps
    if (redis === undefined) {
      this.#store = new MemoryQueueStore()
      this.#lease = soleLeader
    } else {
      const token = randomUUID()
      this.#store = new RedisQueueStore({ redis, keyPrefix, consumer: token, timeoutMs })
      this.#lease = new RedisLease({ redis, key: `${keyPrefix}:leader`, token, leaseMs: options.leaseMs, timeoutMs, report })
    }
    this.#flusher = new Flusher<T>({ store: this.#store, options, codec: deps.codec, namespace: deps.namespace, report })
    this.#loop = this.#lead().catch((error: unknown) => {
      report(asError(error))
    })
  }

  async set(key: string, value: T): Promise<void> {
    this.#assertOpen()
    let encoded: string
    try {
      encoded = this.#deps.codec.encode(value)
    } catch (error) {
      throw error instanceof CacheError ? error : new CacheEncodeError(`write-behind: cannot encode the value: ${messageOf(error)}`, { cause: error })
    }
    await this.#append({ key, deleted: false, encoded })
  }

  async delete(key: string): Promise<void> {
    this.#assertOpen()
    await this.#append({ key, deleted: true, encoded: undefined })
  }

  async flush(): Promise<void> {
    this.#assertOpen()
    await this.#flushQueued()
  }

  async close(deadlineMs: number = writeBehindDefaults.closeDeadlineMs): Promise<void> {
    if (!(Number.isFinite(deadlineMs) && deadlineMs >= 0)) {
      throw new CacheOptionsError(`write-behind: close deadline must be a non-negative number of ms, got ${String(deadlineMs)}`)
    }
    this.#closing ??= this.#shutdown(deadlineMs)
    return this.#closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async deadLetters(limit = 100): Promise<WriteBehindDeadLetter<T>[]> {
    if (!(Number.isSafeInteger(limit) && limit > 0)) throw new CacheOptionsError(`write-behind: limit must be a positive integer, got ${String(limit)}`)
    const stored = await this.#store.deadLetters(limit)
    return stored.map(({ id, key, deleted, encoded, reason, attempts }) => ({ id, key, deleted, reason, attempts, value: this.#decode(encoded) }))
  }

  isLeader(): boolean {
    return !this.#stop.signal.aborted && this.#lease.held()
  }

  /** Leads while it can, else retries the lease every half lease; ends on close. */
  async #lead(): Promise<void> {
    const retryMs = this.#options.leaseMs / 2
    while (!this.#stop.signal.aborted) {
      let leading = false
      try {
        leading = await this.#lease.acquire()
      } catch (error) {
        this.#report(asError(error))
      }
      if (leading) await this.#flusher.run(() => this.#lease.held())
      else await sleep(retryMs, this.#stop.signal)
    }
  }

  async #append(op: QueuedOp): Promise<void> {
    const appending = this.#store.append(op)
    this.#appending.add(appending)
    try {
      await appending
    } finally {
      this.#appending.delete(appending)
    }
  }

  /** Waits until everything queued so far (by any instance) is written or dead-lettered. */
  async #flushQueued(): Promise<void> {
    await Promise.allSettled([...this.#appending])
    const mark = await this.#store.mark()
    if (mark === undefined) return
    const done = this.#flusher.hurry()
    try {
      const pollMs = Math.min(Math.max(this.#options.flushInterval, 10), 100)
      while (!(await this.#store.drained(mark))) {
        if (this.#flusher.stopped) throw new CacheClosedError(`write-behind "${this.#options.name}" was closed before the flush completed`)
        await this.#flusher.settled(pollMs)
      }
    } finally {
      done()
    }
  }

  async #shutdown(deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs
    const flushed = this.#flushQueued().then(
      () => true,
      (error: unknown) => {
        // CacheClosedError: the deadline passed and the flusher was stopped, reported below.
        if (!(error instanceof CacheClosedError)) this.#report(asError(error))
        return false
      },
    )
    const inTime = await this.#within(flushed, deadlineMs, false)
    this.#stop.abort()
    this.#flusher.stop()
    // The batch being written, if any, may finish (and be acknowledged) within what is left.
    await this.#within(this.#loop, deadline - Date.now(), undefined)
    // Each step is bounded by timeoutMs; they run side by side so a dead Redis costs one timeout, not three.
    const [left] = await Promise.all([
      inTime ? 0 : this.#store.size().catch(() => undefined),
      this.#lease.release().catch((error: unknown) => {
        this.#report(asError(error))
      }),
      this.#store.close().catch((error: unknown) => {
        this.#report(asError(error))
      }),
    ])
    if (!inTime && left !== 0) {
      const fate = this.#deps.redis === undefined ? 'memory mode: they are lost' : 'they stay in the Redis stream for the next leader'
      this.#report(new CacheError(`write-behind "${this.#options.name}": closed after ${deadlineMs} ms with ${left ?? 'some'} entries not written (${fate})`))
    }
  }

  /** `promise`'s value, or `fallback` once `ms` have passed. */
  async #within<R, F>(promise: Promise<R>, ms: number, fallback: F): Promise<R | F> {
    const controller = new AbortController()
    try {
      return await Promise.race([promise, sleep(ms, controller.signal).then(() => fallback)])
    } finally {
      controller.abort()
    }
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) throw new CacheClosedError(`write-behind "${this.#options.name}" is closed`)
  }

  #decode(encoded: string | undefined): T | undefined {
    if (encoded === undefined) return undefined
    try {
      return this.#deps.codec.decode(encoded) as T
    } catch {
      return undefined
    }
  }

  #report(error: Error): void {
    try {
      this.#deps.onError?.(error)
    } catch {
      // A failing error handler must not break the loop.
    }
  }
}
