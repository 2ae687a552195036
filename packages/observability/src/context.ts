import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import { randomHex } from './internal/ids'

/**
 * What a request (or a message handler) runs with: read it anywhere below the middleware with
 * {@link getRequestContext}; every line of {@link createLogger}'s logger carries its fields.
 */
export interface RequestContext {
  /** From the `X-Request-Id` header when it is well-formed, else a new UUID; echoed back on the response. */
  readonly requestId: string
  /** The W3C trace id (32 hex digits): the incoming `traceparent`'s, else a new one. */
  readonly traceId: string
  /** This hop's span id (16 hex digits), new for each request. */
  readonly spanId: string
  /** The incoming `traceparent`'s span id, when there was one. */
  readonly parentSpanId: string | undefined
  /** The incoming trace flags (`01` sampled), `01` for a new trace. */
  readonly traceFlags: string
  /** The route template once the framework matched one (`/users/:id`), never the raw path. */
  readonly route: string | undefined
  /** The HTTP method, for requests. */
  readonly method: string | undefined
}

/** What a context is made from; everything but `requestId` is optional. */
export interface RequestContextInit {
  readonly requestId: string
  readonly traceparent?: string | undefined
  readonly route?: string | undefined
  readonly method?: string | undefined
}

const storage = new AsyncLocalStorage<RequestContext>()
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/
const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/

/** A parsed W3C `traceparent` (version 00 fields), or `undefined` for a missing or malformed one. */
export function parseTraceparent(
  value: unknown,
): { readonly traceId: string; readonly spanId: string; readonly traceFlags: string } | undefined {
  if (typeof value !== 'string') return undefined
  const match = TRACEPARENT.exec(value)
  if (match === null) return undefined
  const [, version, traceId, spanId, traceFlags] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ]
  if (version === 'ff' || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined
  return { traceId, spanId, traceFlags }
}

/** Whether `value` can be used as a request id as given: 1–128 characters of `[A-Za-z0-9_.:@/+=-]`. */
export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value)
}

class Context implements RequestContext {
  readonly requestId: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly traceFlags: string
  readonly method: string | undefined
  #route: string | undefined
  readonly #routeOf: (() => string | undefined) | undefined

  constructor(init: RequestContextInit, routeOf?: () => string | undefined) {
    this.requestId = init.requestId
    const parent = parseTraceparent(init.traceparent)
    this.traceId = parent?.traceId ?? randomHex(16)
    this.parentSpanId = parent?.spanId
    this.traceFlags = parent?.traceFlags ?? '01'
    this.spanId = randomHex(8)
    this.method = init.method
    this.#route = init.route
    this.#routeOf = routeOf
  }

  get route(): string | undefined {
    return this.#route ?? this.#routeOf?.()
  }
}

/**
 * A new context: the request id as given, the trace of `traceparent` (or a new trace) and a new span.
 * `routeOf` is read when `route` is, so a framework can report the template once it has matched.
 */
export function createRequestContext(
  init: RequestContextInit,
  routeOf?: () => string | undefined,
): RequestContext {
  return new Context(init, routeOf)
}

/** A new request id (a UUID). */
export function newRequestId(): string {
  return randomUUID()
}

/** Runs `fn` with `context` as the current request context. */
export function runWithRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn)
}

/** The current request context (inside a request or a handler run by {@link runWithMessageContext}). */
export function getRequestContext(): RequestContext | undefined {
  return storage.getStore()
}

/**
 * The `traceparent` to send on an outgoing call from the current context (the trace continues,
 * this hop as parent), or `undefined` outside any context.
 *
 * ```ts
 * const tp = outgoingTraceparent()
 * await fetch(url, { headers: tp === undefined ? {} : { traceparent: tp } })
 * ```
 */
export function outgoingTraceparent(
  context: RequestContext | undefined = storage.getStore(),
): string | undefined {
  if (context === undefined) return undefined
  return `00-${context.traceId}-${context.spanId}-${context.traceFlags}`
}

/**
 * What a queue message carries to restore a context: the `ctx` of a `@scalekit/queue` handler has
 * these fields (a structural type: this package does not depend on the queue).
 */
export interface MessageContextCarrier {
  readonly correlationId?: string | undefined
  readonly traceparent?: string | undefined
  readonly messageId?: string | undefined
}

/**
 * Runs `fn` in the request context a message carried: its correlation id as request id (else the
 * message id, else a new id) and its `traceparent`'s trace, with a new span — so the consumer's log
 * lines carry the request id of the HTTP request that published the message.
 *
 * ```ts
 * queue.consume(OrderPlaced, (order, ctx) => runWithMessageContext(ctx, () => handle(order)), { group: 'email' })
 * ```
 */
export function runWithMessageContext<T>(message: MessageContextCarrier, fn: () => T): T {
  const requestId = isRequestId(message.correlationId)
    ? message.correlationId
    : isRequestId(message.messageId)
      ? message.messageId
      : randomUUID()
  return storage.run(new Context({ requestId, traceparent: message.traceparent }), fn)
}
