import { tracingChannel } from 'node:diagnostics_channel'
import {
  type Attributes,
  context as otelContext,
  isSpanContextValid,
  type Link,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Tracer,
} from '@opentelemetry/api'
import { channelName } from '@scalekit/internal'
import { parseTraceparent } from './context'
import { ObservabilityOptionsError } from './errors'

/** Options of {@link bridgeToOpenTelemetry}. */
export interface OpenTelemetryBridgeOptions {
  /** The tracer spans are started on (`trace.getTracer('scalekit')` of your SDK). Required. */
  tracer: Tracer
  /** Which packages' operations become spans. @default ['cache', 'db-router', 'queue'] */
  packages?: readonly ('cache' | 'db-router' | 'queue')[]
}

/** The subscriptions of {@link bridgeToOpenTelemetry}. */
export interface OpenTelemetryBridge {
  /** Unsubscribes (spans already started end normally). */
  close(): void
}

type Payload = Readonly<Record<string, unknown>>

const { INTERNAL, CLIENT, PRODUCER, CONSUMER } = SpanKind
const { ERROR } = SpanStatusCode

interface Traced {
  readonly channel: string
  readonly kind: SpanKind
  /**
   * How the operation carries trace context in its payload's `traceparent`: `inject` (a publish: the
   * message will carry what the field holds once `start` returns, so the producer span's context is
   * written there), `extract` (a delivery: the field is the message's creation context).
   */
  readonly propagation?: 'inject' | 'extract'
  name(context: Payload): string
  start(context: Payload): Attributes
  end(context: Payload): Attributes
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

function number(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined
}

const TRACED: Readonly<Record<'cache' | 'db-router' | 'queue', readonly Traced[]>> = {
  cache: ['get', 'set', 'delete'].map((op) => ({
    channel: channelName('cache', op),
    kind: INTERNAL,
    name: (c: Payload) => `cache ${text(c.operation) ?? op} ${text(c.namespace) ?? ''}`.trim(),
    start: (c: Payload) => ({
      'scalekit.cache.namespace': text(c.namespace),
      'scalekit.cache.operation': text(c.operation),
    }),
    end: (c: Payload) => ({ 'scalekit.cache.tier': text(c.tier), 'scalekit.cache.outcome': text(c.outcome) }),
  })),
  'db-router': [
    {
      channel: channelName('db-router', 'query'),
      kind: CLIENT,
      name: (c) => (text(c.operation) === 'transaction' ? 'db transaction' : 'db query'),
      start: (c) => ({
        'db.system.name': 'postgresql',
        'scalekit.db.role': text(c.role),
        'scalekit.db.node': text(c.node),
        'scalekit.db.route_reason': text(c.reason),
        'scalekit.db.attempt': number(c.attempt),
      }),
      end: (c) => ({ 'error.type': text(c.errorCode) }),
    },
  ],
  queue: [
    {
      channel: channelName('queue', 'publish'),
      kind: PRODUCER,
      propagation: 'inject',
      name: (c) => `publish ${text(c.type) ?? ''}`.trim(),
      start: (c) => ({
        'messaging.system': 'rabbitmq',
        'messaging.operation.type': 'publish',
        'messaging.destination.name': text(c.type),
        'messaging.message.id': text(c.messageId),
        'messaging.message.body.size': number(c.bytes),
      }),
      end: (c) => ({ 'error.type': text(c.code) }),
    },
    {
      channel: channelName('queue', 'consume'),
      kind: CONSUMER,
      propagation: 'extract',
      name: (c) => `process ${text(c.type) ?? ''}`.trim(),
      start: (c) => ({
        'messaging.system': 'rabbitmq',
        'messaging.operation.type': 'process',
        'messaging.destination.name': text(c.type),
        'messaging.consumer.group.name': text(c.group),
        'messaging.message.id': text(c.messageId),
        'scalekit.queue.attempt': number(c.attempt),
      }),
      end: (c) => ({ 'scalekit.queue.outcome': text(c.outcome), 'error.type': text(c.code) }),
    },
  ],
}

/** The span context a W3C `traceparent` names (remote), or `undefined` for none or a malformed one. */
function remoteSpanContext(value: unknown): SpanContext | undefined {
  const parsed = parseTraceparent(value)
  if (parsed === undefined) return undefined
  return {
    traceId: parsed.traceId,
    spanId: parsed.spanId,
    traceFlags: Number.parseInt(parsed.traceFlags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  }
}

/** The version-00 `traceparent` of a span context. */
function traceparentOf(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & TraceFlags.SAMPLED) !== 0 ? '01' : '00'}`
}

function clean(attributes: Attributes): Attributes {
  return Object.fromEntries(Object.entries(attributes).filter(([, v]) => v !== undefined))
}

function subscribe(tracer: Tracer, traced: Traced): () => void {
  const spans = new WeakMap<object, Span>()
  const finish = (context: object): void => {
    const span = spans.get(context)
    if (span === undefined) return
    spans.delete(context)
    span.setAttributes(clean(traced.end(context as Payload)))
    span.end()
  }
  const handlers = {
    start(context: object) {
      const payload = context as Payload
      let parent = otelContext.active()
      let links: Link[] | undefined
      const carried = traced.propagation === undefined ? undefined : remoteSpanContext(payload.traceparent)
      if (carried !== undefined) {
        // A delivery links to the message's creation context and, as it handles that one message,
        // is its child (OpenTelemetry's messaging conventions) — whatever span happens to be active
        // where the delivery starts: that is the context the broker connection was opened in (or, on
        // the in-process transport, the publisher's), not the message's. A publish outside any span
        // continues the trace the message already carries (the request's).
        if (traced.propagation === 'extract') {
          links = [{ context: carried }]
          parent = trace.setSpanContext(parent, carried)
        } else if (trace.getSpan(parent) === undefined) parent = trace.setSpanContext(parent, carried)
      }
      const span = tracer.startSpan(
        traced.name(payload),
        { kind: traced.kind, attributes: clean(traced.start(payload)), links },
        parent,
      )
      spans.set(context, span)
      if (traced.propagation === 'inject' && typeof payload.traceparent === 'string') {
        const own = span.spanContext()
        if (isSpanContextValid(own)) (context as { traceparent: string }).traceparent = traceparentOf(own)
      }
    },
    end(context: object) {
      if ('result' in context || 'error' in context) finish(context)
    },
    asyncStart() {
      // asyncEnd follows at once.
    },
    asyncEnd(context: object) {
      finish(context)
    },
    error(context: object) {
      const span = spans.get(context)
      const error = (context as { error?: unknown }).error
      if (span === undefined) return
      if (error instanceof Error) span.recordException(error)
      span.setStatus({ code: ERROR, message: error instanceof Error ? error.message : undefined })
    },
  }
  const channel = tracingChannel(traced.channel)
  channel.subscribe(handlers)
  return () => {
    channel.unsubscribe(handlers)
  }
}

/**
 * Turns the traced operations of cache, db-router and queue into OpenTelemetry spans, children of
 * whatever span is active where the operation starts (your HTTP instrumentation's). A queue
 * message carries its producer span's context in its `traceparent`, and the span of its delivery
 * links to that context and is its child — so a consumer's work joins the trace of the request
 * that published (OpenTelemetry's messaging conventions; needs a @scalekit/queue whose channel
 * payloads carry `traceparent`). Needs
 * `@opentelemetry/api` (an optional peer, which your SDK already brings); spans come from the tracer you pass.
 *
 * ```ts
 * const bridge = bridgeToOpenTelemetry({ tracer: trace.getTracer('scalekit') })
 * ```
 */
export function bridgeToOpenTelemetry(options: OpenTelemetryBridgeOptions): OpenTelemetryBridge {
  const given: unknown = options
  const tracer: unknown = typeof given === 'object' && given !== null ? options.tracer : undefined
  if (
    typeof tracer !== 'object' ||
    tracer === null ||
    typeof (tracer as { startSpan?: unknown }).startSpan !== 'function'
  )
    throw new ObservabilityOptionsError(
      'bridgeToOpenTelemetry() takes { tracer } (an @opentelemetry/api Tracer)',
    )
  const packages: unknown = options.packages ?? ['cache', 'db-router', 'queue']
  const known = (p: unknown): p is keyof typeof TRACED => typeof p === 'string' && p in TRACED
  if (!Array.isArray(packages) || !packages.every(known))
    throw new ObservabilityOptionsError("packages must be a list of 'cache', 'db-router', 'queue'")
  const unsubscribes = [...new Set(packages)].flatMap((p) =>
    TRACED[p].map((t) => subscribe(options.tracer, t)),
  )
  let open = true
  return {
    close() {
      if (!open) return
      open = false
      for (const unsubscribe of unsubscribes) unsubscribe()
    },
  }
}

/**
 * The trace id of the active OpenTelemetry span when it is valid and sampled, else `undefined`:
 * the exemplar source that links latency buckets to your SDK's traces.
 *
 * ```ts
 * const metrics = createMetrics({ exemplars: activeTraceId })
 * ```
 */
export function activeTraceId(): string | undefined {
  const context = trace.getActiveSpan()?.spanContext()
  return context !== undefined &&
    isSpanContextValid(context) &&
    (context.traceFlags & TraceFlags.SAMPLED) !== 0
    ? context.traceId
    : undefined
}
