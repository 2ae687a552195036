import type { Cluster, Redis } from 'ioredis'
import type { Codec } from '../codec'

/** One write handed to the store of record: the last operation on `key` in its batch. */
export interface WriteBehindEntry<T> {
  key: string
  /** The value to store; `undefined` when `deleted` is true. */
  value: T | undefined
  /** True when the last operation on the key was `delete()`: remove it from the store. */
  deleted: boolean
}

/** Backoff between attempts of a failing batch: exponential with full jitter. */
export interface WriteBehindBackoff {
  /** Upper bound of the first delay, in ms. @default 100 */
  initial?: number
  /** Cap of every delay, in ms, so a long outage does not push retries out for minutes. @default 10_000 */
  max?: number
}

/** Options of {@link createWriteBehind}, validated at construction. */
export interface WriteBehindOptions<T> {
  /** Queue name, unique within the namespace; carried by the diagnostics events. */
  name: string
  /**
   * Persists a batch to the store of record; throw to retry the whole batch. Entries may be
   * handed over more than once (at-least-once delivery), so the write must be idempotent, e.g. an
   * upsert.
   */
  write: (batch: readonly WriteBehindEntry<T>[]) => Promise<void>
  /** Most entries per batch (before coalescing per key). @default 100 */
  batchSize?: number
  /** How long an entry may wait for its batch to fill, in ms. @default 100 */
  flushInterval?: number
  /** Attempts per batch before its entries go to the dead letters. @default 5 */
  maxAttempts?: number
  /** Delays between attempts. @default { initial: 100, max: 10_000 } */
  backoff?: WriteBehindBackoff
  /**
   * Redis mode: how long the flushing instance's leadership lasts without renewal, in ms. A
   * crashed leader is replaced after at most this long. @default 5000
   */
  leaseMs?: number
}

/** The ioredis clients the queue accepts; it never closes them. */
export type WriteBehindRedis = Redis | Cluster

/** What the cache provides when it creates a queue. */
export interface WriteBehindDeps {
  /** The cache namespace, carried by the diagnostics events. */
  namespace: string
  /** An ioredis client: the queue is then a Redis stream (crash-safe); absent, it lives in memory. */
  redis?: WriteBehindRedis | undefined
  /** Prefix of every Redis key; it holds one hash tag so that all keys share a Cluster slot. */
  keyPrefix: string
  /** Encodes values into the stream (and, in memory mode, copies them the same way). */
  codec: Codec
  /** Bound of every Redis call, in ms. */
  timeoutMs: number
  /** Receives background failures (Redis errors, dead-lettered batches); never throws into the app. */
  onError?: ((error: Error) => void) | undefined
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
 * A write-behind queue: `set`/`delete` return once the write is queued, and batches reach the store
 * of record later, coalesced per key, in queue order.
 */
export interface WriteBehind<T> {
  /** Resolves once the write is durably queued (Redis mode: XADD returned). */
  set(key: string, value: T): Promise<void>
  /** Queues the removal of `key` from the store of record. */
  delete(key: string): Promise<void>
  /** Resolves when everything queued (by any instance) before the call is written or dead-lettered. */
  flush(): Promise<void>
  /** Stops taking writes (CacheClosedError after), flushes within `deadlineMs` (default 10 s), releases leadership. */
  close(deadlineMs?: number): Promise<void>
}

/**
 * What {@link createWriteBehind} returns: the {@link WriteBehind} contract plus inspection, for
 * tests and operations.
 */
export interface WriteBehindQueue<T> extends WriteBehind<T> {
  /** The dead letters, oldest first, at most `limit` (default 100). */
  deadLetters(limit?: number): Promise<WriteBehindDeadLetter<T>[]>
  /** True while this instance is the one that flushes (always true in memory mode until closed). */
  isLeader(): boolean
  /** Same as `close()` with its default deadline, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}
