import type { BackoffInput, CloseOptions, Duration } from '@scalekit/internal'
import type { WriteBehindStore } from './store'

/** One write handed to the store of record: the last operation on `key` in its batch. */
export type WriteBehindEntry<T> =
  | {
      key: string
      /** The last operation on the key was `set()`: store `value`. */
      deleted: false
      value: T
    }
  | {
      key: string
      /** The last operation on the key was `delete()`: remove it from the store. */
      deleted: true
      value: undefined
    }

/**
 * Backoff between attempts of a failing batch: retry `n` waits up to `min(max, initial × factor^(n−1))`,
 * less a random share `jitter` of it. `initial` and `max` are durations.
 */
export type WriteBehindBackoff = BackoffInput

/** Options of `createWriteBehind`, validated at construction. */
export interface WriteBehindOptions<T> {
  /** Queue name, unique within the cache's namespace (1-64 of `[A-Za-z0-9_.-]`); carried by the diagnostics events. */
  name: string
  /**
   * Persists a batch to the store of record; throw to retry the whole batch. Entries may be
   * handed over more than once (at-least-once delivery), so the write must be idempotent, e.g. an
   * upsert. It should bound its own duration: a batch is retried only once it settles.
   */
  write: (batch: readonly WriteBehindEntry<T>[]) => Promise<void>
  /** Most entries per batch (before coalescing per key). @default 100 */
  batchSize?: number
  /** How long an entry may wait for its batch to fill. @default '100ms' */
  flushInterval?: Duration
  /** Attempts per batch before its entries go to the dead letters. @default 5 */
  maxAttempts?: number
  /** Delays between attempts. @default { initial: '100ms', factor: 2, max: '10s', jitter: 1 } (full jitter) */
  backoff?: WriteBehindBackoff
  /**
   * With Redis: how long the flushing instance's leadership lasts without renewal. A crashed leader
   * is replaced after at most this long. @default '5s'
   */
  lease?: Duration
  /**
   * With Redis: most dead letters kept; the oldest go first. (Memory mode keeps
   * `MEMORY_DEAD_LETTER_LIMIT`.) @default 10000
   */
  maxDeadLetters?: number
  /**
   * With Redis: how long a dead letter is kept. Older ones are dropped when the next one arrives,
   * and the dead-letter stream expires this long after its last one. @default '7d'
   */
  deadLetterMaxAge?: Duration
  /**
   * Where the queue lives. @default a Redis stream when the cache has Redis (crash-safe), else
   * memory (NOT crash-safe). Your own store must pass `writeBehindConformance` from
   * `@scalekit/cache/conformance`.
   */
  store?: WriteBehindStore
  /**
   * Receives each background failure with its details (Redis errors, dead-lettered batches); it is
   * also logged through the cache's `logger`, once per episode. Never throws into the app.
   */
  onError?: (error: Error) => void
}

/** An entry given up after `maxAttempts` failed writes (or that could not be decoded). */
export interface WriteBehindDeadLetter<T> {
  /** Its id in the dead-letter store (a stream id in Redis mode). */
  id: string
  key: string
  /** The value; `undefined` for a delete, or when the stored text cannot be decoded. */
  value: T | undefined
  deleted: boolean
  /** The message of the last error (or why the entry could not be decoded). */
  reason: string
  /** Failed writes of its batch; 0 for an entry that could not be decoded (never attempted). */
  attempts: number
}

/**
 * A write-behind queue: `set`/`delete` update the cache at once and return once the write is
 * queued; batches reach the store of record later, coalesced per key, in queue order.
 */
export interface WriteBehindQueue<T> extends AsyncDisposable {
  /** Updates the cache and resolves once the write is durably queued (Redis: XADD returned). */
  set(key: string, value: T): Promise<void>
  /** Deletes `key` from the cache and queues its removal from the store of record. */
  delete(key: string): Promise<void>
  /** Resolves when everything queued (by any instance) before the call is written or dead-lettered. */
  flush(): Promise<void>
  /**
   * Stops taking writes (`ERR_CACHE_CLOSED` after), flushes within `timeout` (default `'10s'`),
   * releases leadership. Never rejects because of the timeout (what is left is reported through
   * `onError`); a second call returns the first call's promise. The cache's `close()` closes it too.
   */
  close(options?: CloseOptions): Promise<void>
  /** The dead letters, oldest first, at most `limit` (default 100). */
  deadLetters(limit?: number): Promise<WriteBehindDeadLetter<T>[]>
  /** True while this instance is the one that flushes (always true without Redis, until closed). */
  isLeader(): boolean
}
