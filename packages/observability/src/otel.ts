import { tracingChannel } from 'node:diagnostics_channel'
import {
  type Attributes,
  isSpanContextValid,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Tracer,
} from '@opentelemetry/api'
import { channelName } from '@scalekit/internal'
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
      spans.set(
        context,
        tracer.startSpan(traced.name(context as Payload), {
          kind: traced.kind,
          attributes: clean(traced.start(context as Payload)),
        }),
      )
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
 * whatever span is active where the operation starts (your HTTP instrumentation's). Needs
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
