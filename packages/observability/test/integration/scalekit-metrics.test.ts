import { Writable } from 'node:stream'
import { createCache } from '@scalekit/cache'
import { createDbRouter } from '@scalekit/db-router'
import { createQueue, defineMessage, NonRetryableError, runWithContext } from '@scalekit/queue'
import { serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createLogger,
  createMetrics,
  getRequestContext,
  instrumentScalekit,
  outgoingTraceparent,
  runWithMessageContext,
  type ScalekitInstrumentation,
} from '../../src/index'
import { metricsHandler, observability } from '../../src/adapters/express'
import { get, sampleValue, serve } from '../http-client'

/** A Standard Schema for `{ n: number }` (no schema library in this package's dev dependencies). */
const schema = {
  '~standard': {
    version: 1 as const,
    vendor: 'test',
    types: undefined as unknown as { input: { n: number }; output: { n: number } },
    validate: (value: unknown) =>
      typeof value === 'object' && value !== null && typeof (value as { n?: unknown }).n === 'number'
        ? { value: value as { n: number } }
        : { issues: [{ message: 'n must be a number' }] },
  },
}

describe('instrumentScalekit with cache, db-router and queue on the real services', () => {
  const metrics = createMetrics()
  let instrumentation: ScalekitInstrumentation
  const namespace = uniqueName('obs_cache')
  const app = uniqueName('obs')
  const Job = defineMessage(`${app}.job`, schema)
  const lines: Record<string, unknown>[] = []
  const logger = createLogger({
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>)
        done()
      },
    }),
  })
  const cache = createCache({ namespace, redis: serviceUrls.redis, ttl: '1m', logger })
  const db = createDbRouter({ primary: serviceUrls.pg, logger })
  const queue = createQueue({ url: serviceUrls.amqp, app, statsInterval: '200ms', logger })
  const handled: { n: number; requestId: string | undefined }[] = []
  let port = 0
  let close: () => Promise<void> = () => Promise.resolve()

  beforeAll(async () => {
    instrumentation = instrumentScalekit({ metrics })
    queue.consume(
      Job,
      (job, ctx) =>
        runWithMessageContext(ctx, () => {
          if (job.n < 0) throw new NonRetryableError('negative')
          handled.push({ n: job.n, requestId: getRequestContext()?.requestId })
          logger.info({ n: job.n }, 'job handled')
          return Promise.resolve()
        }),
      { group: 'worker' },
    )
    const web = express()
    web.use(
      observability({
        metrics,
        logger,
        // Messages published while handling a request carry its request id and trace.
        propagate: [
          (context, next) => {
            runWithContext(
              { correlationId: context.requestId, traceparent: outgoingTraceparent(context) },
              next,
            )
          },
        ],
      }),
    )
    web.post('/jobs/:n', (req, res, next) => {
      queue.publish(Job, { n: Number(req.params.n) }).then(() => res.status(202).end(), next)
    })
    web.get('/metrics', metricsHandler(metrics))
    ;({ port, close } = await serve(web))
  })

  afterAll(async () => {
    instrumentation.close()
    await close()
    await Promise.all([cache.close(), db.close(), queue.close({ timeout: '2s' })])
  })

  it('shows their metrics in /metrics', async () => {
    await cache.getOrSet('user:1', () => Promise.resolve({ name: 'a' }))
    await cache.get('user:1')
    await cache.get('user:missing')
    await cache.set('user:2', 2)
    await db.query('SELECT 1')
    await db.query('SELECT 2')
    await queue.publish(Job, { n: 1 })
    await queue.publish(Job, { n: -1 })
    await waitFor(() => handled.length === 1)
    const scrape = async (): Promise<string> => (await get(port, '/metrics')).body
    await waitFor(async () => (await scrape()).includes('scalekit_queue_depth_messages{'))
    await waitFor(async () => (await scrape()).includes('scalekit_queue_dead_letters_total{'))
    const text = await scrape()

    expect(
      sampleValue(text, 'scalekit_cache_gets_total', {
        cache_namespace: namespace,
        cache_outcome: 'miss',
        cache_tier: 'factory',
      }),
    ).toBe(1)
    expect(
      sampleValue(text, 'scalekit_cache_gets_total', {
        cache_namespace: namespace,
        cache_outcome: 'hit',
        cache_tier: 'l1',
      }),
    ).toBe(1)
    expect(
      sampleValue(text, 'scalekit_cache_gets_total', {
        cache_namespace: namespace,
        cache_outcome: 'miss',
        cache_tier: 'l2',
      }),
    ).toBe(1)
    expect(
      sampleValue(text, 'scalekit_cache_writes_total', {
        cache_namespace: namespace,
        cache_operation: 'set',
      }),
    ).toBe(1)
    expect(
      sampleValue(text, 'scalekit_cache_operation_duration_seconds_count', {
        cache_namespace: namespace,
        cache_operation: 'getOrSet',
      }),
    ).toBe(1)

    expect(
      sampleValue(text, 'db_client_operation_duration_seconds_count', {
        db_role: 'primary',
        db_node: 'primary',
        outcome: 'ok',
      }),
    ).toBe(2)

    expect(
      sampleValue(text, 'messaging_client_operation_duration_seconds_count', {
        messaging_destination_name: Job.name,
        outcome: 'ok',
      }),
    ).toBe(2)
    expect(
      sampleValue(text, 'messaging_process_duration_seconds_count', {
        messaging_destination_name: Job.name,
        messaging_consumer_group_name: 'worker',
        outcome: 'ack',
      }),
    ).toBe(1)
    expect(
      sampleValue(text, 'messaging_process_duration_seconds_count', {
        messaging_consumer_group_name: 'worker',
        outcome: 'dead-letter',
      }),
    ).toBe(1)
    expect(
      sampleValue(text, 'scalekit_queue_dead_letters_total', {
        messaging_consumer_group_name: 'worker',
        reason: 'non-retryable',
      }),
    ).toBe(1)
    expect(
      sampleValue(text, 'scalekit_queue_delivery_latency_seconds_count', {
        messaging_consumer_group_name: 'worker',
      }),
    ).toBe(2)
    expect(
      sampleValue(text, 'scalekit_queue_consumers', {
        messaging_destination_name: Job.name,
        messaging_consumer_group_name: 'worker',
      }),
    ).toBe(1)
    expect(
      sampleValue(text, 'scalekit_queue_connection_events_total', { event: 'consumer-attached' }),
    ).toBeGreaterThanOrEqual(1)
  })

  it('carries the request id of an HTTP request into the log lines of the consumer it triggered', async () => {
    const answer = await get(port, '/jobs/7', { 'x-request-id': 'req-abc-123' }, 'POST')
    expect(answer.status).toBe(202)
    expect(answer.headers['x-request-id']).toBe('req-abc-123')
    await waitFor(() => handled.some((h) => h.n === 7))
    expect(handled.find((h) => h.n === 7)?.requestId).toBe('req-abc-123')
    const consumerLine = lines.find((l) => l.msg === 'job handled' && l.n === 7)
    const accessLine = lines.find((l) => l.msg === 'request completed' && l.route === '/jobs/:n')
    expect(consumerLine).toMatchObject({ requestId: 'req-abc-123' })
    expect(accessLine).toMatchObject({ requestId: 'req-abc-123', statusCode: 202, method: 'POST' })
    // One trace from the request to the consumer.
    expect(consumerLine?.traceId).toBe(accessLine?.traceId)
  })
})
