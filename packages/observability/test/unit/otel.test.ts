import { context, SpanKind, trace } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { createCache } from '@scalekit/cache'
import { createQueue, defineMessage, NonRetryableError } from '@scalekit/queue'
import { waitFor } from '@scalekit/test-utils'
import { describe, expect, it } from 'vitest'
import { bridgeToOpenTelemetry } from '../../src/otel'
import { StorageContextManager } from '../support/context-manager'

const schema = {
  '~standard': {
    version: 1 as const,
    vendor: 'test',
    types: undefined as unknown as { input: { n: number }; output: { n: number } },
    validate: (value: unknown) => ({ value: value as { n: number } }),
  },
}

describe('bridgeToOpenTelemetry (a real OpenTelemetry SDK tracer)', () => {
  it('turns cache reads and queue publishes and deliveries into spans with semantic attributes', async () => {
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    const bridge = bridgeToOpenTelemetry({ tracer: provider.getTracer('scalekit') })
    const cache = createCache({ namespace: 'otel' }) // in-process only
    const queue = createQueue({ app: 'otel', url: 'memory:' }) // the in-memory transport
    const Job = defineMessage('otel.job', schema)
    try {
      await cache.getOrSet('k', () => Promise.resolve(1))
      await cache.get('k')
      queue.consume(
        Job,
        (job) => (job.n < 0 ? Promise.reject(new NonRetryableError('bad job')) : Promise.resolve()),
        { group: 'g' },
      )
      await queue.publish(Job, { n: 1 })
      await queue.publish(Job, { n: -1 })
      await waitFor(
        () => exporter.getFinishedSpans().filter((s) => s.name === 'process otel.job').length === 2,
      )
      const spans = exporter.getFinishedSpans()
      const get = spans.find((s) => s.name === 'cache get otel')
      expect(get?.attributes).toMatchObject({
        'scalekit.cache.namespace': 'otel',
        'scalekit.cache.tier': 'l1',
        'scalekit.cache.outcome': 'hit',
      })
      const publish = spans.find((s) => s.name === 'publish otel.job')
      expect(publish?.kind).toBe(SpanKind.PRODUCER)
      expect(publish?.attributes).toMatchObject({
        'messaging.system': 'rabbitmq',
        'messaging.destination.name': 'otel.job',
      })
      const processed = spans.filter((s) => s.name === 'process otel.job')
      expect(processed.every((s) => s.kind === SpanKind.CONSUMER)).toBe(true)
      expect(processed.map((s) => s.attributes['scalekit.queue.outcome']).sort()).toEqual([
        'ack',
        'dead-letter',
      ])
      bridge.close()
      const before = exporter.getFinishedSpans().length
      await cache.get('k')
      expect(exporter.getFinishedSpans()).toHaveLength(before)
    } finally {
      bridge.close()
      await Promise.all([cache.close(), queue.close({ timeout: '1s' })])
      await provider.shutdown()
    }
  })

  it('makes a delivery the child of, and linked to, the publish span of the request that sent it (a real queue)', async () => {
    context.setGlobalContextManager(new StorageContextManager())
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    const tracer = provider.getTracer('scalekit')
    const bridge = bridgeToOpenTelemetry({ tracer, packages: ['queue'] })
    const queue = createQueue({ app: 'otel-parent', url: 'memory:' })
    const Job = defineMessage('otel.parented', schema)
    const carried: string[] = []
    try {
      queue.consume(
        Job,
        (_job, ctx) => {
          carried.push(ctx.traceparent)
          return Promise.resolve()
        },
        { group: 'g' },
      )
      const request = tracer.startSpan('POST /orders', { kind: SpanKind.SERVER })
      await context.with(trace.setSpan(context.active(), request), () => queue.publish(Job, { n: 1 }))
      request.end()
      await waitFor(() => exporter.getFinishedSpans().some((s) => s.name === 'process otel.parented'))
      const spans = exporter.getFinishedSpans()
      const producer = spans.find((s) => s.name === 'publish otel.parented')
      const consumer = spans.find((s) => s.name === 'process otel.parented')
      const traceId = request.spanContext().traceId
      expect(producer?.parentSpanContext?.spanId).toBe(request.spanContext().spanId)
      // The message carried the producer span's context to the handler.
      expect(carried).toEqual([`00-${traceId}-${producer?.spanContext().spanId}-01`])
      expect(consumer?.spanContext().traceId).toBe(traceId)
      expect(consumer?.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId)
      expect(consumer?.links.map((l) => l.context.spanId)).toEqual([producer?.spanContext().spanId])
    } finally {
      bridge.close()
      context.disable()
      await queue.close({ timeout: '1s' })
      await provider.shutdown()
    }
  })

  it('refuses a missing tracer with a coded error', () => {
    expect(() => bridgeToOpenTelemetry({} as never)).toThrow(
      expect.objectContaining({ code: 'ERR_OBSERVABILITY_INVALID_OPTIONS' }),
    )
  })
})
