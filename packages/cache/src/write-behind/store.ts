/** A queued operation as a {@link WriteBehindStore} stores it: the value is kept encoded, as it travels through Redis. */
export interface QueuedOp {
  readonly key: string
  readonly deleted: boolean
  /** The codec's text of the value; absent for a delete. */
  readonly encoded: string | undefined
}

/** A queued operation handed to the flusher by {@link WriteBehindStore.take}. */
export interface QueueRecord extends QueuedOp {
  /** Store-specific, ordered: a stream id in Redis, a sequence number in memory. */
  readonly id: string
  /** When it was queued (ms since the epoch, never in the future): batches fill for at most `flushInterval` after it. */
  readonly queuedAt: number
  /** Why the stored entry is unusable (malformed fields); it is dead-lettered as is. */
  readonly invalid?: string
}

/** A dead letter as a {@link WriteBehindStore} stores it. */
export interface StoredDeadLetter extends QueuedOp {
  readonly id: string
  readonly reason: string
  readonly attempts: number
}

/**
 * Where a write-behind queue keeps its operations: what the flusher needs from a backend, so
 * batching, coalescing and retries are one piece of code over every store (memory, the Redis
 * stream, yours). Only one instance at a time calls `begin`/`take`/`ack`/`deadLetter` (the leader);
 * any instance calls `append`. A store of your own must pass `writeBehindConformance`.
 */
export interface WriteBehindStore {
  /** Queues one operation; resolves once it is stored. */
  append(op: QueuedOp): Promise<void>
  /**
   * Called when this instance starts flushing (and after a failure): hands out again, first and in
   * order, every record taken but not acknowledged, including a crashed leader's.
   */
  begin(): Promise<void>
  /** Up to `count` records not handed out yet, oldest first; waits up to `waitMs` (maybe less) while there are none. */
  take(count: number, waitMs: number): Promise<QueueRecord[]>
  /** Removes written records. */
  ack(ids: readonly string[]): Promise<void>
  /** Stores `ops` as dead letters and removes the records `ids`, atomically where the backend can. */
  deadLetter(
    ops: readonly QueuedOp[],
    ids: readonly string[],
    reason: string,
    attempts: number,
  ): Promise<void>
  /** A position after every operation queued so far (`undefined`: nothing is queued). */
  mark(): Promise<string | undefined>
  /** True once nothing at or before `mark` is left in the queue. */
  drained(mark: string): Promise<boolean>
  /** Ends a `take()` that is waiting, where the backend can. */
  wake(): void
  /** The oldest dead letters. */
  deadLetters(limit: number): Promise<StoredDeadLetter[]>
  /** How many operations are left (for the close report). */
  size(): Promise<number>
  /** Releases what the store opened (never the user's client). */
  close(): Promise<void>
}
