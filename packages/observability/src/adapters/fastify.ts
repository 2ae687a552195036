import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { getRequestContext, type RequestContext, runWithRequestContext } from '../context'
import { HttpObserver, type HttpObservabilityOptions, methodLabel } from '../http/observer'
import type { Metrics } from '../metrics/metrics'
import { type Health, readinessStatus } from '../health/health'

export type { HttpObservabilityOptions, AccessLogger, ContextPropagator } from '../http/observer'

/** Options of {@link observabilityPlugin}. */
export interface ObservabilityPluginOptions extends HttpObservabilityOptions {
  /** Serve the metrics' exposition text at this path (needs `metrics`); `false` for none. @default '/metrics' */
  metricsPath?: string | false
  /** Serve `/healthz` (liveness) and `/readyz` (readiness) from these checks. @default none */
  health?: Health
}

interface RequestState {
  readonly method: string
  readonly start: number
  readonly context: RequestContext | undefined
  /** The trace id of the duration's exemplar, when exemplars are on. */
  readonly traceId: string | undefined
}

const plugin: FastifyPluginCallback<ObservabilityPluginOptions> = (fastify, options, done) => {
  const { metricsPath = '/metrics', health, ...httpOptions } = options
  const observer = new HttpObserver(httpOptions)
  const header = observer.requestIdHeader
  // Each request's state lives on the request (a decoration under a symbol of this registration),
  // not in a WeakMap keyed by the request: the state reaches its own request (the context reads the
  // route from it), and such WeakMap entries outlived young-generation collections, so every
  // request's objects were promoted and the heap grew until a full collection.
  const state = Symbol('@scalekit/observability request state')
  fastify.decorateRequest(state, null)
  const states = {
    set(request: FastifyRequest, value: RequestState): void {
      ;(request as FastifyRequest & Record<symbol, RequestState | null>)[state] = value
    },
    get(request: FastifyRequest): RequestState | undefined {
      return (request as FastifyRequest & Record<symbol, RequestState | null>)[state] ?? undefined
    },
  }
  const routeOf = (request: FastifyRequest): string | undefined => request.routeOptions.url

  fastify.addHook('onRequest', (request, reply, next) => {
    const shed = observer.shed?.reason
    if (shed !== undefined) {
      observer.shedOne(shed)
      void reply
        .code(503)
        .header('retry-after', String(observer.shed?.retryAfterSeconds ?? 1))
        .send({ code: 'ERR_OBSERVABILITY_OVERLOADED', reason: shed })
      return
    }
    const method = methodLabel(request.method)
    const start = observer.begin(method)
    if (!observer.withContext) {
      const traceId = observer.exemplars ? observer.exemplarTraceId(request.headers, undefined) : undefined
      states.set(request, { method, start, context: undefined, traceId })
      next()
      return
    }
    const context = observer.context(request.headers, request.method, () => routeOf(request))
    const traceId = observer.exemplars ? observer.exemplarTraceId(request.headers, context) : undefined
    states.set(request, { method, start, context, traceId })
    void reply.header(header, context.requestId)
    runWithRequestContext(context, () => {
      observer.enter(context, next)
    })
  })
  // Body parsing resumes from stream events, outside the context: enter it again before the handler
  // (a hook Fastify runs per request, so only when there is a context to restore).
  if (observer.withContext)
    fastify.addHook('preValidation', (request, _reply, next) => {
      const context = states.get(request)?.context
      // Without a body to parse the hooks ran on in the context entered at onRequest.
      if (context === undefined || getRequestContext() === context) next()
      else
        runWithRequestContext(context, () => {
          observer.enter(context, next)
        })
    })
  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, next) => {
    const state = states.get(request)
    if (state !== undefined)
      observer.end(
        state.method,
        routeOf(request),
        reply.statusCode,
        state.start,
        state.context,
        state.traceId,
      )
    next()
  })
  const metrics: Metrics | undefined = options.metrics
  if (metricsPath !== false && metrics !== undefined) {
    fastify.get(metricsPath, async (request, reply) => {
      const { contentType, body } = await metrics.exposition(request.headers.accept)
      return reply.type(contentType).send(body)
    })
  }
  if (health !== undefined) {
    fastify.get('/healthz', (_request, reply) =>
      reply.header('cache-control', 'no-store').send({ status: 'ok' }),
    )
    fastify.get('/readyz', async (_request, reply) => {
      const report = await health.check()
      return reply.code(readinessStatus(report)).header('cache-control', 'no-store').send(report)
    })
  }
  done()
}

/**
 * The Fastify (4 or 5) plugin: request metrics (RED, by route template), the request context
 * (request id, trace), an access log line, load shedding, and `/metrics`.
 *
 * ```ts
 * await app.register(observabilityPlugin, { metrics, logger })
 * ```
 */
export const observabilityPlugin: FastifyPluginCallback<ObservabilityPluginOptions> = fp(
  // fastify-plugin's types name whichever `fastify` the installation hoisted (4 or 5); the plugin
  // itself works on both, so its type is ours, not the hoisted one's.
  plugin as unknown as Parameters<typeof fp>[0],
  { name: '@scalekit/observability', fastify: '4.x || 5.x' },
) as unknown as FastifyPluginCallback<ObservabilityPluginOptions>
