import type { AddressInfo } from 'node:net'
import { context, trace } from '@opentelemetry/api'
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base'
import express from 'express'
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger, createMetrics, type Metrics, type MetricsOptions } from '../../src/index'
import { metricsHandler, observability } from '../../src/adapters/express'
import { observabilityPlugin } from '../../src/adapters/fastify'
import { negotiate } from '../../src/metrics/exposition'
import { activeTraceId } from '../../src/otel'
import { get, serve } from '../http-client'
import { StorageContextManager } from '../support/context-manager'

/** What Prometheus 2.42 sends on every scrape. */
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const sampled = (traceId: string): string => `00-${traceId}-00f067aa0ba902b7-01`

interface Exemplar {
  readonly labels: string
  readonly traceId: string
  readonly value: number
  readonly timestamp: number
}

/** The exemplars of `metric`'s bucket samples in an OpenMetrics body (`… # {trace_id="…"} v ts`). */
function exemplars(body: string, metric: string): Exemplar[] {
  const found: Exemplar[] = []
  const line = new RegExp(
    `^${metric}_bucket\\{([^}]*)\\} \\S+ # \\{trace_id="([0-9a-f]{32})"\\} (\\S+) (\\S+)$`,
    'gm',
  )
  for (const m of body.matchAll(line))
    found.push({ labels: m[1] ?? '', traceId: m[2] ?? '', value: Number(m[3]), timestamp: Number(m[4]) })
  return found
}

const HISTOGRAM = 'http_server_request_duration_seconds'

interface App {
  readonly port: number
  close(): Promise<void>
}

async function expressApp(metrics: Metrics, withLogger = false): Promise<App> {
  const app = express()
  app.use(
    observability({
      metrics,
      ...(withLogger ? { logger: createLogger({ destination: { write: () => true } }) } : {}),
    }),
  )
  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id })
  })
  app.get('/metrics', metricsHandler(metrics))
  return serve(app)
}

async function fastifyApp(metrics: Metrics, withLogger = false): Promise<App> {
  const app = Fastify()
  await app.register(observabilityPlugin, {
    metrics,
    ...(withLogger ? { logger: createLogger({ destination: { write: () => true } }) } : {}),
  })
  app.get('/users/:id', (request) => Promise.resolve({ id: (request.params as { id: string }).id }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() }
}

const newMetrics = (options: MetricsOptions): Metrics => createMetrics({ defaultMetrics: false, ...options })

describe('negotiate', () => {
  it('serves OpenMetrics to what Prometheus sends, the text format otherwise', () => {
    expect(negotiate(PROMETHEUS_ACCEPT)).toBe('openmetrics')
    expect(negotiate('application/openmetrics-text; version=1.0.0; charset=utf-8')).toBe('openmetrics')
    expect(negotiate(undefined)).toBe('prometheus')
    expect(negotiate('*/*')).toBe('prometheus')
    expect(negotiate('text/plain;version=0.0.4')).toBe('prometheus')
    expect(negotiate('text/plain, application/openmetrics-text;q=0.5')).toBe('prometheus')
    expect(negotiate('application/openmetrics-text;q=0')).toBe('prometheus')
    expect(negotiate('application/openmetrics-text;q=bad')).toBe('prometheus')
  })
})

describe.each([
  ['express', expressApp],
  ['fastify', fastifyApp],
] as const)('%s exemplars over real HTTP', (_name, start) => {
  let app: App
  let metrics: Metrics
  beforeAll(async () => {
    metrics = newMetrics({ exemplars: true })
    app = await start(metrics)
  })
  afterAll(async () => {
    await app.close()
  })

  it('links the latency bucket of a traced request to its trace id when OpenMetrics is negotiated', async () => {
    expect((await get(app.port, '/users/1', { traceparent: sampled(TRACE) })).status).toBe(200)
    const before = Date.now() / 1000
    const answer = await get(app.port, '/metrics', { accept: PROMETHEUS_ACCEPT })
    expect(answer.headers['content-type']).toBe(Registry.OPENMETRICS_CONTENT_TYPE)
    expect(answer.body.endsWith('# EOF\n')).toBe(true)
    const found = exemplars(answer.body, HISTOGRAM).filter((e) => e.labels.includes('/users/:id'))
    expect(found).toHaveLength(1)
    const [exemplar] = found
    expect(exemplar?.traceId).toBe(TRACE)
    expect(exemplar?.value).toBeGreaterThan(0)
    expect(exemplar?.timestamp).toBeLessThanOrEqual(before + 1)
    // The exemplar sits on the first bucket whose bound holds the observed value.
    const le = Number(/le="([^"]+)"/.exec(exemplar?.labels ?? '')?.[1])
    expect(exemplar?.value).toBeLessThanOrEqual(le)
    // A counter keeps `_total` in both formats, whichever was rendered first.
    expect(answer.body).toContain('# TYPE http_server_shed_requests counter')
  })

  it('serves the Prometheus text format, without exemplars, to any other Accept', async () => {
    for (const accept of [undefined, 'text/plain;version=0.0.4', '*/*']) {
      const answer = await get(app.port, '/metrics', accept === undefined ? {} : { accept })
      expect(answer.headers['content-type']).toBe(Registry.PROMETHEUS_CONTENT_TYPE)
      expect(answer.body).toContain(`${HISTOGRAM}_bucket{`)
      expect(answer.body).not.toContain('# {trace_id=')
      expect(answer.body).not.toContain('# EOF')
      expect(answer.body).toContain('# TYPE http_server_shed_requests_total counter')
    }
  })

  it('records no exemplar for an unsampled or absent trace', async () => {
    const other = newMetrics({ exemplars: true })
    const quiet = await start(other)
    try {
      await get(quiet.port, '/users/2', { traceparent: `00-${TRACE}-00f067aa0ba902b7-00` })
      await get(quiet.port, '/users/3')
      const answer = await other.exposition(PROMETHEUS_ACCEPT)
      expect(answer.body).toContain(`${HISTOGRAM}_count{http_request_method="GET",http_route="/users/:id"`)
      expect(exemplars(answer.body, HISTOGRAM)).toEqual([])
    } finally {
      await quiet.close()
    }
  })

  it('takes the trace the request context started when the middleware keeps one', async () => {
    const other = newMetrics({ exemplars: true })
    const logged = await start(other, true)
    try {
      await get(logged.port, '/users/4')
      const found = exemplars((await other.exposition(PROMETHEUS_ACCEPT)).body, HISTOGRAM)
      expect(found).toHaveLength(1)
      expect(found[0]?.traceId).not.toBe(TRACE)
    } finally {
      await logged.close()
    }
  })

  it('takes the trace id of a configured source first, and the request’s when it throws', async () => {
    const fromSource = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
    let fail = false
    const other = newMetrics({
      exemplars: () => {
        if (fail) throw new Error('no tracer')
        return fromSource
      },
    })
    const sourced = await start(other)
    try {
      await get(sourced.port, '/users/5', { traceparent: sampled(TRACE) })
      expect(exemplars((await other.exposition(PROMETHEUS_ACCEPT)).body, HISTOGRAM)[0]?.traceId).toBe(
        fromSource,
      )
      fail = true
      await get(sourced.port, '/users/6', { traceparent: sampled(TRACE) })
      const traces = exemplars((await other.exposition(PROMETHEUS_ACCEPT)).body, HISTOGRAM).map(
        (e) => e.traceId,
      )
      expect(traces).toContain(TRACE)
    } finally {
      await sourced.close()
    }
  })
})

describe('exemplars off (the default)', () => {
  it('keeps the plain histogram and shows no exemplar even in OpenMetrics', async () => {
    const metrics = newMetrics({})
    const app = await expressApp(metrics)
    try {
      await get(app.port, '/users/1', { traceparent: sampled(TRACE) })
      const histogram = metrics.registry.getSingleMetric(HISTOGRAM) as { enableExemplars?: boolean }
      expect(histogram.enableExemplars).toBe(false)
      const answer = await get(app.port, '/metrics', { accept: PROMETHEUS_ACCEPT })
      expect(answer.headers['content-type']).toBe(Registry.OPENMETRICS_CONTENT_TYPE)
      expect(answer.body).toContain(`${HISTOGRAM}_count{`)
      expect(answer.body).not.toContain('# {')
    } finally {
      await app.close()
    }
  })

  it('refuses a bad exemplars option with a coded error', () => {
    expect(() => createMetrics({ exemplars: 'yes' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_OBSERVABILITY_INVALID_OPTIONS' }),
    )
  })
})

describe('activeTraceId (the OpenTelemetry source)', () => {
  it('reads the active sampled span’s trace id, and nothing outside a span', async () => {
    const manager = new StorageContextManager()
    context.setGlobalContextManager(manager)
    const provider = new BasicTracerProvider()
    try {
      expect(activeTraceId()).toBeUndefined()
      const span = provider.getTracer('t').startSpan('request')
      const id = context.with(trace.setSpan(context.active(), span), () => activeTraceId())
      expect(id).toBe(span.spanContext().traceId)
      span.end()
      const unsampled = trace.wrapSpanContext({ ...span.spanContext(), traceFlags: 0 })
      expect(context.with(trace.setSpan(context.active(), unsampled), () => activeTraceId())).toBeUndefined()
    } finally {
      context.disable()
      await provider.shutdown()
    }
  })
})
