import type { IncomingHttpHeaders } from 'node:http'
import { performance } from 'node:perf_hooks'
import { createChecks, describeValue } from '@scalekit/internal'
import {
  createRequestContext,
  isRequestId,
  newRequestId,
  parseTraceparent,
  type RequestContext,
} from '../context'
import { ObservabilityOptionsError } from '../errors'
import { accessLogOf } from '../logs/logger'
import { httpMetrics } from '../metrics/definitions'
import { type ExemplarTraceId, isTraceId, type Metrics, metricsInternals } from '../metrics/metrics'
import type { LoadShedder } from './shedding'

/** Where the HTTP layer writes its access log: pino's shape, `info` only. */
export interface AccessLogger {
  info(obj: object, msg?: string): void
}

/**
 * Runs the rest of the request in another library's context as well: e.g. `@scalekit/queue`'s
 * `runWithContext`, so a message published while handling the request carries its request id.
 */
export type ContextPropagator = (context: RequestContext, next: () => void) => void

/** Options of the Express middleware and the Fastify plugin. */
export interface HttpObservabilityOptions {
  /** Record RED metrics (`http_server_request_duration_seconds`, `http_server_active_requests`) here. @default none */
  metrics?: Metrics
  /** Log one line per completed request at `info` (with the request context), e.g. {@link createLogger}'s. @default none */
  logger?: AccessLogger
  /** Write the access log line when a `logger` is given. @default true */
  accessLog?: boolean
  /** The header a request id is read from and echoed back in. @default 'x-request-id' */
  requestIdHeader?: string
  /** Use a well-formed incoming request id (else always generate one). @default true */
  trustRequestId?: boolean
  /** Answer 503 with `Retry-After` while this shedder says so (counted in `http_server_shed_requests_total`). @default none */
  shed?: LoadShedder
  /** Other libraries' contexts to enter around the rest of the request, outermost first. @default [] */
  propagate?: readonly ContextPropagator[]
  /**
   * Run each request in a {@link RequestContext} (AsyncLocalStorage) and echo its request id. On
   * Node 20 an AsyncLocalStorage in use makes every promise pay for async hooks, so metrics alone
   * do not turn it on.
   * @default true when a `logger` or `propagate` is given, else false
   */
  context?: boolean
}

/** The route label of requests that matched no route (404s of the framework): one value for all. */
export const UNMATCHED_ROUTE = 'unmatched'

const METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'QUERY',
])
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx']
const checks = createChecks(ObservabilityOptionsError)

/** The method label: the method when it is a known one, else `_OTHER` (OpenTelemetry's rule). */
export function methodLabel(method: string | undefined): string {
  return method !== undefined && METHODS.has(method) ? method : '_OTHER'
}

/** `2xx`…`5xx`, or `other` outside 100–599. */
export function statusClass(status: number): string {
  return STATUS_CLASSES[Math.floor(status / 100) - 1] ?? 'other'
}

interface Series {
  observe(seconds: number, traceId: string | undefined): void
}

const NO_EXEMPLAR = {}

/** Whether W3C trace flags say sampled: an exemplar of an unsampled trace links to nothing. */
function sampled(flags: string): boolean {
  return (Number.parseInt(flags, 16) & 1) === 1
}

/** The framework-agnostic part of both adapters: context, metrics and the access log of requests. */
export class HttpObserver {
  readonly requestIdHeader: string
  readonly shed: LoadShedder | undefined
  readonly withContext: boolean
  /** Whether request durations carry exemplars: call {@link exemplarTraceId} when a request starts. */
  readonly exemplars: boolean
  readonly #exemplarSource: ExemplarTraceId | undefined
  readonly #trustRequestId: boolean
  readonly #logger: AccessLogger | undefined
  readonly #metrics: ReturnType<typeof metricsInternals> | undefined
  readonly #series = new Map<string, Series>()
  readonly #active = new Map<string, number>()
  readonly #propagate: readonly ContextPropagator[]
  readonly #shedCounter: ((reason: string) => void) | undefined

  constructor(options: HttpObservabilityOptions) {
    const given: unknown = options
    if (typeof given !== 'object' || given === null)
      throw new ObservabilityOptionsError(`the HTTP middleware takes an options object, got ${typeof given}`)
    this.#metrics = options.metrics === undefined ? undefined : metricsInternals(options.metrics)
    if (options.logger !== undefined && typeof (options.logger as { info?: unknown }).info !== 'function')
      throw new ObservabilityOptionsError('logger must have info(obj, msg) (a pino logger)')
    const accessLog = checks.boolean('accessLog', options.accessLog, true)
    this.#logger = accessLog && options.logger !== undefined ? accessLogOf(options.logger) : undefined
    const header = options.requestIdHeader ?? 'x-request-id'
    if (typeof header !== 'string' || !/^[a-z0-9-]+$/i.test(header))
      throw new ObservabilityOptionsError(
        `requestIdHeader must be a header name, got ${describeValue(header)}`,
      )
    this.requestIdHeader = header.toLowerCase()
    this.#trustRequestId = checks.boolean('trustRequestId', options.trustRequestId, true)
    if (options.shed !== undefined && !('reason' in options.shed))
      throw new ObservabilityOptionsError('shed must come from createLoadShedder()')
    this.shed = options.shed
    const propagate = options.propagate ?? []
    if (!Array.isArray(propagate) || !propagate.every((p) => typeof p === 'function'))
      throw new ObservabilityOptionsError('propagate must be an array of (context, next) => void functions')
    this.#propagate = propagate
    this.withContext = checks.boolean(
      'context',
      options.context,
      options.logger !== undefined || propagate.length > 0,
    )
    const metrics = this.#metrics
    this.exemplars = metrics !== undefined && metrics.exemplars !== false
    this.#exemplarSource =
      metrics !== undefined && metrics.exemplars !== false ? metrics.exemplars.traceId : undefined
    if (metrics !== undefined) {
      const active = this.#active
      // In-flight requests are counted in a Map and read into the gauge at scrape time: two
      // integer updates per request instead of two label-hashing gauge calls.
      metrics.gaugeSource(httpMetrics.activeRequests, function* () {
        for (const [method, count] of active) yield [[method], count] as const
      })
      const shed = metrics.counter(httpMetrics.shedRequests)
      this.#shedCounter = (reason) => {
        shed.inc({ reason })
      }
      metrics.exemplarHistogram(httpMetrics.requestDuration)
    }
  }

  /**
   * The trace id of a request's exemplar, read when it starts: the configured source's (the active
   * OpenTelemetry span), else the request context's, else the incoming `traceparent`'s — of a
   * sampled trace only. A source that throws counts as none.
   */
  exemplarTraceId(headers: IncomingHttpHeaders, context: RequestContext | undefined): string | undefined {
    const source = this.#exemplarSource
    if (source !== undefined) {
      let traceId: unknown
      try {
        traceId = source()
      } catch {
        traceId = undefined
      }
      if (isTraceId(traceId)) return traceId
    }
    const trace = context ?? parseTraceparent(headers.traceparent)
    return trace !== undefined && sampled(trace.traceFlags) ? trace.traceId : undefined
  }

  /** The context of a new request: its request id (trusted header or new) and trace. */
  context(
    headers: IncomingHttpHeaders,
    method: string | undefined,
    routeOf: () => string | undefined,
  ): RequestContext {
    const given = this.#trustRequestId ? headers[this.requestIdHeader] : undefined
    const requestId = isRequestId(given) ? given : newRequestId()
    const traceparent = headers.traceparent
    return createRequestContext(
      { requestId, traceparent: typeof traceparent === 'string' ? traceparent : undefined, method },
      routeOf,
    )
  }

  /** Runs `next` inside every propagator's context, then `next`. */
  enter(context: RequestContext, next: () => void): void {
    const chain = this.#propagate
    if (chain.length === 0) {
      next()
      return
    }
    let i = 0
    const step = (): void => {
      const p = chain[i++]
      if (p === undefined) next()
      else p(context, step)
    }
    step()
  }

  /** A request was shed: count it. */
  shedOne(reason: string): void {
    this.#shedCounter?.(reason)
  }

  /** A request started: returns its start time. */
  begin(method: string): number {
    if (this.#metrics !== undefined) this.#active.set(method, (this.#active.get(method) ?? 0) + 1)
    return performance.now()
  }

  /** A request ended with `status` on `route` (undefined: it matched none). */
  end(
    method: string,
    route: string | undefined,
    status: number,
    start: number,
    context: RequestContext | undefined,
    traceId?: string,
  ): void {
    const ms = performance.now() - start
    if (this.#metrics !== undefined) {
      this.#active.set(method, (this.#active.get(method) ?? 1) - 1)
      this.#seriesOf(method, route ?? UNMATCHED_ROUTE, statusClass(status)).observe(ms / 1000, traceId)
    }
    if (this.#logger !== undefined) {
      this.#logger.info(
        {
          requestId: context?.requestId,
          traceId: context?.traceId,
          spanId: context?.spanId,
          method,
          route: route ?? UNMATCHED_ROUTE,
          statusCode: status,
          durationMs: Math.round(ms * 1000) / 1000,
        },
        'request completed',
      )
    }
  }

  #seriesOf(method: string, route: string, cls: string): Series {
    const key = `${method} ${route} ${cls}`
    let series = this.#series.get(key)
    if (series === undefined) {
      const metrics = this.#metrics as ReturnType<typeof metricsInternals>
      const definition = httpMetrics.requestDuration
      const histogram = metrics.exemplarHistogram(definition)
      const labels = metrics.admit(definition, key)
        ? { http_request_method: method, http_route: route, http_response_status_class: cls }
        : metrics.overflowLabels(definition)
      series = (histogram as { enableExemplars?: boolean }).enableExemplars
        ? {
            observe: (seconds, traceId) => {
              histogram.observe({
                labels,
                value: seconds,
                exemplarLabels: traceId === undefined ? NO_EXEMPLAR : { trace_id: traceId },
              } as Parameters<typeof histogram.observe>[0])
            },
          }
        : {
            observe: (seconds) => {
              histogram.observe(labels, seconds)
            },
          }
      // Overflowed keys are not cached: the map stays as small as the budget.
      if (labels.http_route !== 'overflow' || route === 'overflow') this.#series.set(key, series)
    }
    return series
  }
}
