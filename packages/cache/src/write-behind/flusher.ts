import { performance } from 'node:perf_hooks'
import { backoffDelay, sleep } from '@scalekit/internal'
import { CacheError } from '../errors'
import { prepareBatch } from './batch'
import { asError, messageOf } from '../internal/error-text'
import { publishDeadLetter, publishFlush } from './events'
import type { ResolvedOptions } from './options'
import type { OpSealing } from './sealing'
import type { QueueRecord, WriteBehindStore, QueuedOp } from './store'

/** What a {@link Flusher} drives and tells. */
export interface FlusherConfig<T> {
  readonly store: WriteBehindStore
  readonly options: ResolvedOptions<T>
  readonly sealing: OpSealing<T>
  readonly namespace: string
  readonly report: (error: Error) => void
}

/**
 * The one loop both modes share: fills a batch up to `batchSize` or until its oldest entry has
 * waited `flushInterval`, coalesces it per key, calls `write`, retries with backoff, dead-letters
 * after `maxAttempts`, then acknowledges. Batches go one at a time, in queue order.
 */
export class Flusher<T> {
  readonly #config: FlusherConfig<T>
  readonly #stop = new AbortController()
  /** Open `flush()`/`close()` calls: partial batches go at once while there are any. */
  #urgent = 0
  #failures = 0
  #progress = new Set<() => void>()

  constructor(config: FlusherConfig<T>) {
    this.#config = config
  }

  /** Flushes until `isActive()` turns false or `stop()`; never rejects (failures are reported and retried). */
  async run(isActive: () => boolean): Promise<void> {
    while (this.#running(isActive)) {
      try {
        await this.#config.store.begin()
        await this.#drain(isActive)
      } catch (error) {
        // A store failure: what was taken and not acknowledged is handed out again by begin().
        this.#failures += 1
        this.#config.report(asError(error))
        await sleep(
          Math.max(10, backoffDelay(this.#config.options.backoff, this.#failures)),
          this.#stop.signal,
        )
      }
    }
    this.#notify()
  }

  /** Makes partial batches due at once until the returned function is called. */
  hurry(): () => void {
    this.#urgent += 1
    this.#config.store.wake()
    let done = false
    return () => {
      if (!done) this.#urgent -= 1
      done = true
    }
  }

  /** Resolves after the next batch settles, or after `ms`. */
  async settled(ms: number): Promise<void> {
    const settled = new AbortController()
    const wake = (): void => {
      settled.abort()
    }
    this.#progress.add(wake)
    await sleep(ms, settled.signal)
    this.#progress.delete(wake)
  }

  /** Ends the loop after the batch in progress; abandons backoff waits. */
  stop(): void {
    this.#stop.abort()
    this.#config.store.wake()
    this.#notify()
  }

  get stopped(): boolean {
    return this.#stop.signal.aborted
  }

  #running(isActive: () => boolean): boolean {
    return !this.#stop.signal.aborted && isActive()
  }

  async #drain(isActive: () => boolean): Promise<void> {
    const { store, options } = this.#config
    const buffer: QueueRecord[] = []
    while (this.#running(isActive)) {
      const head = buffer[0]
      if (buffer.length < options.batchSize) {
        const waitMs =
          head === undefined ? Number.POSITIVE_INFINITY : this.#urgent > 0 ? 0 : this.#dueIn(head)
        buffer.push(...(await store.take(options.batchSize - buffer.length, waitMs)))
      }
      const oldest = buffer[0]
      if (oldest === undefined || !this.#running(isActive)) continue
      if (buffer.length >= options.batchSize || this.#urgent > 0 || this.#dueIn(oldest) <= 0) {
        await this.#process(buffer.splice(0, options.batchSize), isActive)
        this.#notify()
      }
    }
  }

  #dueIn(record: QueueRecord): number {
    return record.queuedAt + this.#config.options.flushInterval - Date.now()
  }

  async #process(records: readonly QueueRecord[], isActive: () => boolean): Promise<void> {
    const { store, options, sealing } = this.#config
    const batch = prepareBatch<T>(records, (op) => sealing.open(op))
    for (const { record, reason } of batch.rejects) await this.#deadLetter([record], [record.id], reason, 0)
    if (batch.entries.length === 0) {
      await store.ack(batch.ids)
      return
    }
    for (let attempt = 1; ; attempt += 1) {
      const started = performance.now()
      let failure: { error: unknown } | undefined
      try {
        await options.write(batch.entries)
      } catch (error) {
        failure = { error }
      }
      publishFlush({
        namespace: this.#config.namespace,
        queue: options.name,
        size: batch.entries.length,
        attempt,
        durationMs: performance.now() - started,
        ok: failure === undefined,
      })
      if (failure === undefined) {
        await store.ack(batch.ids)
        this.#failures = 0
        return
      }
      if (attempt >= options.maxAttempts) {
        await this.#deadLetter(batch.ops, batch.ids, messageOf(failure.error), attempt, failure.error)
        return
      }
      await sleep(backoffDelay(options.backoff, attempt), this.#stop.signal)
      // Stopped or deposed: the batch stays queued for the next leader (or the next start).
      if (!this.#running(isActive)) return
    }
  }

  async #deadLetter(
    ops: readonly QueuedOp[],
    ids: readonly string[],
    reason: string,
    attempts: number,
    cause?: unknown,
  ): Promise<void> {
    const { store, options, namespace, sealing } = this.#config
    await store.deadLetter(ops, ids, sealing.sealReason(reason), attempts)
    publishDeadLetter({ namespace, queue: options.name, size: ops.length, attempts, reason })
    this.#config.report(
      new CacheError(
        `write-behind "${options.name}": ${ops.length} entries dead-lettered after ${attempts} attempts: ${reason}`,
        { cause },
      ),
    )
  }

  #notify(): void {
    const waiters = [...this.#progress]
    this.#progress.clear()
    for (const wake of waiters) wake()
  }
}
