import { randomUUID } from 'node:crypto'
import { CloseGate, type CloseOptions, sleep, withTimeout } from '@scalekit/internal'
import type { Cache } from '../cache'
import { CacheArgumentError, CacheClosedError, CacheEncodeError, CacheError } from '../errors'
import { asError, messageOf } from '../internal/error-text'
import { checkKey } from '../internal/keys'
import { writeBehindKey, writeBehindPrefix } from '../internal/redis-keys'
import { type Plumbing, plumbingOf } from '../internal/plumbing'
import { Flusher } from './flusher'
import { type Leadership, RedisLease, soleLeader } from './leadership'
import { MemoryStore } from './memory-store'
import { type ResolvedOptions, resolveOptions } from './options'
import { OpSealing } from './sealing'
import { RedisQueueStore } from './redis-store'
import type { QueuedOp, WriteBehindStore } from './store'
import type { WriteBehindDeadLetter, WriteBehindOptions, WriteBehindQueue } from './types'

/**
 * Creates a write-behind queue on `cache`: `set()`/`delete()` update the cache at once and resolve
 * once the operation is queued, and a background loop writes batches to the store of record
 * through `options.write`, coalesced per key (last operation wins), retried with backoff,
 * dead-lettered after `maxAttempts`. Every Redis call goes through the cache's connection: its
 * `timeout` and its circuit breaker. The cache's `close()` closes (and so flushes) the queue.
 *
 * - A cache with Redis: crash-safe. Operations go to the stream `sk:{<namespace>:wb:<name>}:stream`;
 *   the one instance holding the lease `…:leader` reads it through a consumer group and
 *   acknowledges (XACK + XDEL) only after `write` succeeded, so an acknowledged `set()` survives a
 *   SIGKILL: the next leader claims the dead one's pending entries and writes them first. Writes
 *   reach the store in stream order, so it ends with the last value per key across instances, as
 *   long as a leader does not stall longer than `lease` mid-write (a deposed leader's late write
 *   is not fenced). Delivery is at-least-once: `write` must be idempotent. Dead letters go to the
 *   stream `…:dead`.
 * - A memory-only cache: same API and semantics, but NOT crash-safe: what is queued dies with the
 *   process, and with `close()` if its timeout passes (reported through `onError`); at most
 *   `MEMORY_DEAD_LETTER_LIMIT` (10 000) dead letters are kept.
 *
 * Background failures never reject anywhere: they are retried with backoff, passed to
 * `options.onError` and logged through the cache's `logger` once per episode. Throws
 * `CacheOptionsError` on invalid options, `CacheClosedError` on a closed cache.
 */
export function createWriteBehind<T>(cache: Cache, options: WriteBehindOptions<T>): WriteBehindQueue<T> {
  const plumbing = plumbingOf(cache)
  const resolved = resolveOptions(options)
  if (plumbing.closed()) throw new CacheClosedError(`cache '${plumbing.namespace}' is closed`)
  return new Queue<T>(cache, plumbing, resolved)
}

class Queue<T> implements WriteBehindQueue<T> {
  readonly #cache: Cache
  readonly #plumbing: Plumbing
  readonly #options: ResolvedOptions<T>
  readonly #store: WriteBehindStore
  readonly #sealing: OpSealing<T>
  readonly #lease: Leadership
  readonly #flusher: Flusher<T>
  readonly #stop = new AbortController()
  readonly #appending = new Set<Promise<void>>()
  readonly #loop: Promise<void>
  readonly #release: () => void
  readonly #gate: CloseGate = new CloseGate(CacheArgumentError, (timeoutMs) => this.#shutdown(timeoutMs))

  constructor(cache: Cache, plumbing: Plumbing, options: ResolvedOptions<T>) {
    this.#cache = cache
    this.#plumbing = plumbing
    this.#options = options
    const report = (error: Error): void => {
      this.#report(error)
    }
    const { remote } = plumbing
    // One hash tag: every key of the queue is in one Cluster slot.
    const keyPrefix = writeBehindPrefix(plumbing.namespace, options.name)
    const token = randomUUID()
    this.#sealing = new OpSealing<T>(plumbing.codec, plumbing.encryption, keyPrefix)
    this.#store =
      options.store ??
      (remote === undefined
        ? new MemoryStore()
        : new RedisQueueStore({
            remote,
            keyPrefix,
            consumer: token,
            timeoutMs: remote.timeoutMs,
            maxDeadLetters: options.maxDeadLetters,
            deadLetterMaxAge: options.deadLetterMaxAge,
          }))
    this.#lease =
      remote === undefined
        ? soleLeader
        : new RedisLease({
            remote,
            key: writeBehindKey(plumbing.namespace, options.name, ':leader'),
            token,
            leaseMs: options.lease,
            report,
          })
    this.#flusher = new Flusher<T>({
      store: this.#store,
      options,
      sealing: this.#sealing,
      namespace: plumbing.namespace,
      report,
    })
    this.#release = plumbing.adopt(this)
    this.#loop = this.#lead().catch((error: unknown) => {
      report(asError(error))
    })
  }

  async set(key: string, value: T): Promise<void> {
    this.#assertOpen()
    checkKey(key)
    let op: QueuedOp
    try {
      op = this.#sealing.seal(key, false, value)
    } catch (error) {
      throw error instanceof CacheError
        ? error
        : new CacheEncodeError(`write-behind: cannot encode the value: ${messageOf(error)}`, { cause: error })
    }
    await this.#append(op)
    // The cache answers with the new value at once; a failure there (Redis away) is the cache's to report.
    await this.#cache.set(key, value).catch(() => undefined)
  }

  async delete(key: string): Promise<void> {
    this.#assertOpen()
    checkKey(key)
    await this.#append(this.#sealing.seal(key, true, undefined))
    await this.#cache.delete(key).catch(() => undefined)
  }

  async flush(): Promise<void> {
    this.#assertOpen()
    await this.#flushQueued()
  }

  close(options?: CloseOptions): Promise<void> {
    return this.#gate.close(options)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async deadLetters(limit = 100): Promise<WriteBehindDeadLetter<T>[]> {
    if (!(Number.isSafeInteger(limit) && limit > 0))
      throw new CacheArgumentError(`write-behind: limit must be a positive integer, got ${String(limit)}`)
    const stored = await this.#store.deadLetters(limit)
    return stored.map((letter) => ({
      id: letter.id,
      key: letter.key,
      deleted: letter.deleted,
      reason: this.#sealing.openReason(letter.reason),
      attempts: letter.attempts,
      value: this.#open(letter),
    }))
  }

  isLeader(): boolean {
    return !this.#stop.signal.aborted && this.#lease.held()
  }

  /** Leads while it can, else retries the lease every half lease; ends on close. */
  async #lead(): Promise<void> {
    const retryMs = this.#options.lease / 2
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
        if (this.#flusher.stopped)
          throw new CacheClosedError(
            `write-behind "${this.#options.name}" was closed before the flush completed`,
          )
        await this.#flusher.settled(pollMs)
      }
    } finally {
      done()
    }
  }

  async #shutdown(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    const flushed = this.#flushQueued().then(
      () => true,
      (error: unknown) => {
        // CacheClosedError: the timeout passed and the flusher was stopped, reported below.
        if (!(error instanceof CacheClosedError)) this.#report(asError(error))
        return false
      },
    )
    const inTime = await within(flushed, timeoutMs, false)
    this.#stop.abort()
    this.#flusher.stop()
    // The batch being written, if any, may finish (and be acknowledged) within what is left.
    await within(this.#loop, deadline - Date.now(), undefined)
    // Each step is bounded by the cache's timeout; side by side, a dead Redis costs one timeout, not three.
    const [left] = await Promise.all([
      inTime ? 0 : this.#store.size().catch(() => undefined),
      this.#lease.release().catch((error: unknown) => {
        this.#report(asError(error))
      }),
      this.#store.close().catch((error: unknown) => {
        this.#report(asError(error))
      }),
    ])
    this.#release()
    if (!inTime && left !== 0) {
      const fate =
        this.#plumbing.remote === undefined && this.#options.store === undefined
          ? 'memory mode: they are lost'
          : 'they stay queued for the next leader'
      this.#report(
        new CacheError(
          `write-behind "${this.#options.name}": closed after ${timeoutMs} ms with ${left ?? 'some'} entries not written (${fate})`,
        ),
      )
    }
  }

  #assertOpen(): void {
    if (this.#gate.closed || this.#plumbing.closed())
      throw new CacheClosedError(`write-behind "${this.#options.name}" is closed`)
  }

  #open(op: QueuedOp): T | undefined {
    try {
      return this.#sealing.open(op)
    } catch {
      return undefined
    }
  }

  #report(error: Error): void {
    this.#plumbing.trouble.writeBehind(this.#options.name, error)
    try {
      this.#options.onError?.(error)
    } catch {
      // A failing error handler must not break the loop.
    }
  }
}

/** `promise`'s value, or `fallback` once `ms` have passed (`promise` never rejects here). */
async function within<R, F>(promise: Promise<R>, ms: number, fallback: F): Promise<R | F> {
  return withTimeout<R | F>(promise, Math.max(0, ms), () => new CacheClosedError('timed out')).catch(
    () => fallback,
  )
}
