import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import express from 'express'
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMetrics, type Metrics } from '../../src/index'
import { metricsHandler, observability } from '../../src/adapters/express'
import { observabilityPlugin } from '../../src/adapters/fastify'
import { get, load, sampleValue, samples, serve } from '../http-client'

const COUNT = 'http_server_request_duration_seconds_count'

interface App {
  readonly port: number
  readonly metrics: Metrics
  close(): Promise<void>
}

async function expressApp(seriesBudget?: number): Promise<App> {
  const metrics = createMetrics({ seriesBudget, defaultMetrics: false })
  const app = express()
  app.use(observability({ metrics }))
  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id })
  })
  const router = express.Router()
  router.get('/orders/:orderId', (_req, res) => {
    res.status(201).send('ok')
  })
  app.use('/api', router)
  app.get('/boom', () => {
    throw new Error('boom')
  })
  app.get('/metrics', metricsHandler(metrics))
  return { ...(await serve(app)), metrics }
}

async function fastifyApp(seriesBudget?: number): Promise<App> {
  const metrics = createMetrics({ seriesBudget, defaultMetrics: false })
  const app = Fastify()
  await app.register(observabilityPlugin, { metrics })
  app.get('/users/:id', (request) => Promise.resolve({ id: (request.params as { id: string }).id }))
  await app.register(
    (api, _options, done) => {
      api.get('/orders/:orderId', (_request, reply) => reply.code(201).send('ok'))
      done()
    },
    { prefix: '/api' },
  )
  app.get('/boom', () => Promise.reject(new Error('boom')))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { port: (app.server.address() as AddressInfo).port, metrics, close: () => app.close() }
}

describe.each([
  ['express', expressApp],
  ['fastify', fastifyApp],
] as const)('%s RED metrics over real HTTP', (_name, start) => {
  let app: App
  beforeAll(async () => {
    app = await start()
  })
  afterAll(async () => {
    await app.close()
  })

  it('10 000 requests to /users/<random id> make one series, labelled by the route template', async () => {
    const statuses = await load(app.port, 10_000, () => `/users/${randomUUID()}`)
    expect(statuses.get(200)).toBe(10_000)
    const text = await app.metrics.metrics()
    const users = samples(text, COUNT).filter((l) => l.includes('/users'))
    expect(users).toEqual([
      'http_server_request_duration_seconds_count{http_request_method="GET",http_route="/users/:id",http_response_status_class="2xx"} 10000',
    ])
    expect(text).not.toMatch(/http_route="\/users\/[0-9a-f]/)
  }, 180_000)

  it('2 000 random-path 404s stay in one series', async () => {
    const statuses = await load(app.port, 2_000, (i) => `/${randomUUID()}/${i}?q=${i}`)
    expect(statuses.get(404)).toBe(2_000)
    const text = await app.metrics.metrics()
    const unmatched = samples(text, COUNT).filter((l) => l.includes('4xx'))
    expect(unmatched).toEqual([
      'http_server_request_duration_seconds_count{http_request_method="GET",http_route="unmatched",http_response_status_class="4xx"} 2000',
    ])
  }, 60_000)

  it('labels nested routers by their full template, errors by 5xx, odd methods as _OTHER', async () => {
    expect((await get(app.port, '/api/orders/7')).status).toBe(201)
    expect((await get(app.port, '/boom')).status).toBe(500)
    await get(app.port, '/users/1', {}, 'PROPFIND')
    const text = await app.metrics.metrics()
    expect(
      sampleValue(text, COUNT, { http_route: '/api/orders/:orderId', http_response_status_class: '2xx' }),
    ).toBe(1)
    expect(sampleValue(text, COUNT, { http_route: '/boom', http_response_status_class: '5xx' })).toBe(1)
    expect(sampleValue(text, COUNT, { http_request_method: '_OTHER' })).toBe(1)
    expect(text).toContain('le="0.25"')
    expect(text).toContain('le="2.5"')
  })

  it('serves /metrics with the registry content type and counts requests in flight by method', async () => {
    const answer = await get(app.port, '/metrics')
    expect(answer.status).toBe(200)
    expect(answer.headers['content-type']).toContain('text/plain')
    expect(answer.body).toContain('# TYPE http_server_request_duration_seconds histogram')
    // The scrape itself is the one request in flight while it is collected.
    expect(answer.body).toContain('http_server_active_requests{http_request_method="GET"} 1')
  })
})

describe.each([
  ['express', expressApp],
  ['fastify', fastifyApp],
] as const)('%s series budget', (_name, start) => {
  it('folds label sets past the budget into one overflow set and counts them', async () => {
    const app = await start(3)
    try {
      for (const path of ['/users/1', '/api/orders/1', '/boom', '/nowhere', '/users/2'])
        await get(app.port, path)
      await get(app.port, '/users/3', {}, 'DELETE')
      const text = await app.metrics.metrics()
      expect(samples(text, COUNT)).toHaveLength(4)
      expect(sampleValue(text, COUNT, { http_route: 'overflow', http_request_method: 'overflow' })).toBe(2)
      expect(
        sampleValue(text, 'scalekit_observability_series_overflow_total', {
          metric: 'http_server_request_duration_seconds',
        }),
      ).toBe(2)
    } finally {
      await app.close()
    }
  })
})

describe('createMetrics', () => {
  it('returns the existing metrics on a second call with the same registry (hot reload)', async () => {
    const registry = new Registry()
    const first = createMetrics({ registry })
    const second = createMetrics({ registry })
    const definition = { name: 'jobs_total', kind: 'counter', help: 'Jobs.', labelNames: ['kind'] } as const
    first.counter(definition).inc({ kind: 'a' })
    second.counter(definition).inc({ kind: 'a' })
    expect(second.counter(definition)).toBe(first.counter(definition))
    const text = await registry.metrics()
    expect(text).toContain('jobs_total{kind="a"} 2')
    expect(text).toContain('nodejs_eventloop_lag_p99_seconds')
    expect(text.match(/# TYPE process_cpu_user_seconds_total/g)).toHaveLength(1)
  })

  it('uses a registry of its own by default, never the global one', async () => {
    const { register } = await import('prom-client')
    const metrics = createMetrics()
    expect(metrics.registry).not.toBe(register)
    metrics.counter({ name: 'own_total', kind: 'counter', help: 'x', labelNames: [] }).inc()
    expect(await register.metrics()).not.toContain('own_total')
  })

  it('refuses a definition that disagrees with the registered metric, with a coded error', () => {
    const metrics = createMetrics({ defaultMetrics: false })
    metrics.counter({ name: 'a_total', kind: 'counter', help: 'x', labelNames: ['x'] })
    expect(() => metrics.gauge({ name: 'a_total', kind: 'gauge', help: 'x', labelNames: ['x'] })).toThrow(
      expect.objectContaining({ code: 'ERR_OBSERVABILITY_METRIC_CONFLICT' }),
    )
    expect(() => metrics.counter({ name: 'a_total', kind: 'counter', help: 'x', labelNames: ['y'] })).toThrow(
      expect.objectContaining({ code: 'ERR_OBSERVABILITY_METRIC_CONFLICT' }),
    )
  })

  it('refuses bad options naming the option', () => {
    expect(() => createMetrics({ seriesBudget: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_OBSERVABILITY_INVALID_OPTIONS' }),
    )
    expect(() => createMetrics({ registry: {} as unknown as Registry })).toThrow(
      expect.objectContaining({ code: 'ERR_OBSERVABILITY_INVALID_OPTIONS' }),
    )
  })
})
