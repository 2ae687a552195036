import { AsyncLocalStorage } from 'node:async_hooks'
import { randomHex } from './internal/ids'

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

/** `fn(a, b)` with `context` as the current queue context (no closure per call). */
export function runInContext<A, B, R>(context: QueueContext, fn: (a: A, b: B) => R, a: A, b: B): R {
  return storage.run(context, fn, a, b)
}

/** The current queue context: inside a handler, the context the message carried. */
export function getContext(): QueueContext | undefined {
  return storage.getStore()
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/**
 * The `traceparent` for an outgoing message: the same trace as `parent` with a new parent id (this
 * hop), or `''` when there is no valid parent — the consumer then joins the message's own trace
 * (`messageTraceparent`), so a message published outside any request costs no header.
 */
export function childTraceparent(parent: string | undefined): string {
  const match = parent === undefined ? null : TRACEPARENT.exec(parent)
  if (match !== null && match[1] !== undefined && match[3] !== undefined)
    return `00-${match[1]}-${randomHex(16)}-${match[3]}`
  return ''
}

/** Whether `value` is a well-formed version-00 traceparent. */
export function isTraceparent(value: unknown): value is string {
  return typeof value === 'string' && TRACEPARENT.test(value)
}
