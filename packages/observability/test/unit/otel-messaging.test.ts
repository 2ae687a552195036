import { tracingChannel } from 'node:diagnostics_channel'
import { context, SpanKind, trace } from '@opentelemetry/api'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bridgeToOpenTelemetry, type OpenTelemetryBridge } from '../../src/otel'
import { StorageContextManager } from '../support/context-manager'

// The queue's channels as @scalekit/queue publishes on them: a publish's payload holds the
// traceparent the message will carry (read back after `start`), a delivery's the one it carried.
const publishChannel = tracingChannel<unknown, Record<string, unknown>>('scalekit:queue:publish')
const consumeChannel = tracingChannel<unknown, Record<string, unknown>>('scalekit:queue:consume')

/** Publishes as the queue does: returns the traceparent the message would carry. */
async function publish(payload: Record<string, unknown>): Promise<unknown> {
  return publishChannel.tracePromise(() => Promise.resolve(payload.traceparent), payload)
}

async function deliver(payload: Record<string, unknown>): Promise<void> {
  await consumeChannel.tracePromise(async () => {
    payload.outcome = 'ack'
    return Promise.resolve()
  }, payload)
}

const message = (traceparent?: string): Record<string, unknown> => ({
  type: 'order.placed',
  messageId: 'm-1',
  bytes: 10,
  delayMs: 0,
  ...(traceparent === undefined ? {} : { traceparent }),
})
const delivery = (traceparent?: string): Record<string, unknown> => ({
  type: 'order.placed',
  group: 'email',
  messageId: 'm-1',
  attempt: 1,
  latencyMs: 1,
  ...(traceparent === undefined ? {} : { traceparent }),
})

describe('bridgeToOpenTelemetry: a message joins the trace of the request that published it', () => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const tracer = provider.getTracer('test')
  let bridge: OpenTelemetryBridge
  beforeAll(() => {
    context.setGlobalContextManager(new StorageContextManager())
    bridge = bridgeToOpenTelemetry({ tracer, packages: ['queue'] })
  })
  afterAll(async () => {
    bridge.close()
    context.disable()
    await provider.shutdown()
  })
  const finished = (name: string): ReadableSpan[] =>
    exporter.getFinishedSpans().filter((s) => s.name === name)

  it('the message carries the producer span; the delivery is its child and links to it', async () => {
    exporter.reset()
    const request = tracer.startSpan('GET /orders', { kind: SpanKind.SERVER })
    const carried = await context.with(trace.setSpan(context.active(), request), () => publish(message('')))
    request.end()
    const [producer] = finished('publish order.placed')
    expect(producer?.parentSpanContext?.spanId).toBe(request.spanContext().spanId)
    expect(carried).toBe(`00-${request.spanContext().traceId}-${producer?.spanContext().spanId}-01`)

    await deliver(delivery(carried as string))
    const [consumer] = finished('process order.placed')
    expect(consumer?.kind).toBe(SpanKind.CONSUMER)
    expect(consumer?.spanContext().traceId).toBe(request.spanContext().traceId)
    expect(consumer?.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId)
    expect(consumer?.links.map((l) => l.context.spanId)).toEqual([producer?.spanContext().spanId])
  })

  it('a publish outside any span continues the trace the message already carries', async () => {
    exporter.reset()
    const requestTrace = '4bf92f3577b34da6a3ce929d0e0e4736'
    const carried = await publish(message(`00-${requestTrace}-00f067aa0ba902b7-01`))
    const [producer] = finished('publish order.placed')
    expect(producer?.spanContext().traceId).toBe(requestTrace)
    expect(producer?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7')
    expect(carried).toBe(`00-${requestTrace}-${producer?.spanContext().spanId}-01`)
  })

  it('a delivery is the child of its creation context even where another span is active', async () => {
    // E.g. a broker connection opened inside a request: its deliveries start in that request's context.
    exporter.reset()
    const creation = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    const unrelated = tracer.startSpan('GET /first-request')
    await context.with(trace.setSpan(context.active(), unrelated), () => deliver(delivery(creation)))
    unrelated.end()
    const [consumer] = finished('process order.placed')
    expect(consumer?.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736')
    expect(consumer?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7')
    expect(consumer?.links.map((l) => l.context.spanId)).toEqual(['00f067aa0ba902b7'])
  })

  it('without a traceparent in the payload (or a malformed one) spans stand alone and the payload is untouched', async () => {
    exporter.reset()
    const payload = message()
    await publish(payload)
    expect('traceparent' in payload).toBe(false)
    await deliver(delivery())
    await deliver(delivery('00-not-a-traceparent'))
    const consumers = finished('process order.placed')
    expect(consumers).toHaveLength(2)
    for (const span of consumers) {
      expect(span.parentSpanContext).toBeUndefined()
      expect(span.links).toEqual([])
    }
  })
})
