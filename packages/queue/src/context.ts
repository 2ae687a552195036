import { AsyncLocalStorage } from 'node:async_hooks'
import { randomFillSync, randomUUID } from 'node:crypto'

/**
 * Request-scoped context that travels with messages: set it where a request starts (or let a
 * framework adapter do it); `publish` copies it into the message headers and the consumer restores
 * it around the handler, so the consumer's logs join the request that published.
 */
export interface QueueContext {
  /** The correlation id of the request or job. */
  readonly correlationId?: string | undefined
  /** A W3C `traceparent` (`00-<trace-id>-<parent-id>-<flags>`). */
  readonly traceparent?: string | undefined
}

const storage = new AsyncLocalStorage<QueueContext>()

/** Runs `fn` with `context` as the current queue context (AsyncLocalStorage). */
export function runWithContext<T>(context: QueueContext, fn: () => T): T {
  return storage.run(context, fn)
}

/** The current queue context: inside a handler, the context the message carried. */
export function getContext(): QueueContext | undefined {
  return storage.getStore()
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/**
 * The `traceparent` for an outgoing message: the same trace as `parent` with a new parent id (this
 * hop), or a new sampled trace when there is no valid parent.
 */
export function childTraceparent(parent: string | undefined): string {
  const span = randomHex(8)
  const match = parent === undefined ? null : TRACEPARENT.exec(parent)
  if (match !== null && match[1] !== undefined && match[3] !== undefined) return `00-${match[1]}-${span}-${match[3]}`
  return `00-${randomHex(16)}-${span}-01`
}

/**
 * Random bytes from the CSPRNG, filled a pool at a time (one `randomFillSync` per 512 ids instead
 * of two UUIDs and their string surgery per message).
 */
const POOL_BYTES = 8192
const pool = Buffer.allocUnsafe(POOL_BYTES)
let poolOffset = POOL_BYTES

/** `bytes` random bytes as lowercase hex; never all zeros (W3C forbids all-zero trace and parent ids). */
function randomHex(bytes: number): string {
  if (poolOffset + bytes > POOL_BYTES) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const start = poolOffset
  poolOffset += bytes
  for (let i = start; i < poolOffset; i++) if (pool[i] !== 0) return pool.toString('hex', start, poolOffset)
  return `${'0'.repeat(bytes * 2 - 1)}1`
}

/** Whether `value` is a well-formed version-00 traceparent. */
export function isTraceparent(value: unknown): value is string {
  return typeof value === 'string' && TRACEPARENT.test(value)
}

/** A new correlation id. */
export function newCorrelationId(): string {
  return randomUUID()
}
