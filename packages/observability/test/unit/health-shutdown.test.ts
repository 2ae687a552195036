import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { createHealth, createLoadShedder, createMetrics, createShutdown } from '../../src/index'
import { observability } from '../../src/adapters/express'
import { observabilityPlugin } from '../../src/adapters/fastify'
import { get, sampleValue, serve } from '../http-client'

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve((server.address() as AddressInfo).port)
    })
  })
}

describe('createHealth', () => {
  it('aggregates checks: a critical one down is 503, a non-critical one degraded, a slow one times out', async () => {
    const health = createHealth({ timeout: '200ms' })
    health.register('redis', () => Promise.resolve('PONG'))
    health.register('scalekit-object', { health: () => ({ status: 'degraded' }) })
    health.register('search', () => Promise.reject(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), {
      critical: false,
    })
    let report = await health.check()
    expect(report.status).toBe('degraded')
    expect(report.checks.search).toMatchObject({ status: 'down', reason: 'ECONNREFUSED', critical: false })
    expect(report.checks['scalekit-object']).toMatchObject({ status: 'degraded' })
    health.register('primary', () => new Promise(() => undefined), { timeout: 50 })
    report = await health.check()
    expect(report.status).toBe('down')
    expect(report.checks.primary).toMatchObject({ status: 'down', reason: 'ERR_OBSERVABILITY_CHECK_TIMEOUT' })
  })

  it('uses checkHealth() of a scalekit object when it has one', async () => {
    const health = createHealth()
    health.register('cache', {
      checkHealth: () => Promise.resolve({ status: 'down' }),
      health: () => ({ status: 'ok' }),
    })
    expect((await health.check()).checks.cache).toMatchObject({ status: 'down', reason: 'status:down' })
  })

  it('refuses a check that is neither a function nor a health object', () => {
    const health = createHealth()
    expect(() => {
      health.register('x', {} as never)
    }).toThrow(expect.objectContaining({ code: 'ERR_OBSERVABILITY_INVALID_ARGUMENT' }))
    expect(() => createHealth({ timeout: 'soon' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_OBSERVABILITY_INVALID_OPTIONS' }),
    )
  })
})

describe('shutdown under load (Express, real HTTP)', () => {
  it('flips readiness first, lets in-flight requests complete, then runs drain, flush, close in order', async () => {
    const health = createHealth()
    const app = express()
    let releaseSlow: () => void = () => undefined
    const slowStarted = new Promise<void>((started) => {
      app.get('/slow', (_req, res) => {
        started()
        new Promise<void>((resolve) => (releaseSlow = resolve))
          .then(() => res.send('finished'))
          .catch(() => undefined)
      })
    })
    app.get('/healthz', health.liveness)
    app.get('/readyz', health.readiness)
    const server = createServer(app)
    const port = await listen(server)
    const order: string[] = []
    const shutdown = createShutdown({
      health,
      readinessDelay: '300ms',
      timeout: '10s',
      exit: false,
      signals: [],
    })
    shutdown.server(server)
    shutdown.close(() => {
      order.push('close')
    }, 'db')
    shutdown.flush(
      {
        close: (options?: { timeout?: unknown }) => {
          order.push(`flush:${typeof options?.timeout}`)
          return Promise.resolve()
        },
      },
      'cache',
    )
    shutdown.drain(() => {
      order.push('drain')
    }, 'queue')

    expect((await get(port, '/readyz')).status).toBe(200)
    const slow = get(port, '/slow')
    await slowStarted
    const done = shutdown.shutdown('test')
    // Readiness flips at once while the instance still serves.
    const ready = await get(port, '/readyz')
    expect(ready.status).toBe(503)
    expect(JSON.parse(ready.body)).toMatchObject({ accepting: false })
    expect((await get(port, '/healthz')).status).toBe(200)
    expect(order).toEqual([])
    releaseSlow()
    expect((await slow).body).toBe('finished')
    const report = await done
    expect(report.ok).toBe(true)
    expect(report.steps.map((s) => `${s.phase}:${s.name}`)).toEqual([
      'not-ready:readiness',
      'wait:readiness-delay',
      'servers:server',
      'drain:queue',
      'flush:cache',
      'close:db',
    ])
    expect(order).toEqual(['drain', 'flush:number', 'close'])
    expect(server.listening).toBe(false)
    expect(shutdown.state).toBe('done')
    await expect(get(port, '/healthz')).rejects.toThrow()
  })

  it('starts on a signal, and a failing step is reported without stopping the others', async () => {
    const order: string[] = []
    const shutdown = createShutdown({ readinessDelay: 0, exit: false, signals: ['SIGUSR2'] })
    shutdown.drain(() => Promise.reject(Object.assign(new Error('stuck'), { code: 'E_STUCK' })), 'consumers')
    shutdown.close(() => {
      order.push('close')
    }, 'pool')
    const report = new Promise((resolve) => {
      const poll = setInterval(() => {
        if (shutdown.state === 'done') {
          clearInterval(poll)
          resolve(shutdown.shutdown())
        }
      }, 5)
    })
    process.emit('SIGUSR2', 'SIGUSR2')
    expect(await report).toMatchObject({
      ok: false,
      steps: expect.arrayContaining([
        expect.objectContaining({ name: 'consumers', error: 'E_STUCK' }),
      ]) as unknown,
    })
    expect(order).toEqual(['close'])
    expect(process.listenerCount('SIGUSR2')).toBe(0)
  })
})

describe('load shedding', () => {
  it.each(['express', 'fastify'] as const)(
    '%s answers 503 with Retry-After over the heap threshold, counted',
    async (framework) => {
      const metrics = createMetrics({ defaultMetrics: false })
      // A threshold every heap is over: every request is shed.
      // (and an event-loop threshold no busy test machine reaches, so the reason stays 'heap').
      const shed = createLoadShedder({
        maxHeapUsedRatio: 0.000001,
        maxEventLoopDelay: '10m',
        retryAfter: '7s',
      })
      let port: number
      let close: () => Promise<void>
      if (framework === 'express') {
        const app = express()
        app.use(observability({ metrics, shed }))
        app.get('/x', (_req, res) => res.send('x'))
        ;({ port, close } = await serve(app))
      } else {
        const app = Fastify()
        await app.register(observabilityPlugin, { metrics, shed, metricsPath: false })
        app.get('/x', () => Promise.resolve('x'))
        await app.listen({ port: 0, host: '127.0.0.1' })
        port = (app.server.address() as AddressInfo).port
        close = () => app.close()
      }
      try {
        const answer = await get(port, '/x')
        expect(answer.status).toBe(503)
        expect(answer.headers['retry-after']).toBe('7')
        expect(
          sampleValue(await metrics.metrics(), 'http_server_shed_requests_total', { reason: 'heap' }),
        ).toBe(1)
      } finally {
        shed.close()
        await close()
      }
    },
  )

  it('sheds on event-loop delay and stops once the loop is free again', async () => {
    const shed = createLoadShedder({ maxEventLoopDelay: '50ms', sampleInterval: '1h' })
    try {
      shed.sample()
      expect(shed.reason).toBeUndefined()
      const until = Date.now() + 200
      while (Date.now() < until) {
        // Block the event loop.
      }
      // The probe timer (every 25 ms here) fires late once the loop is free.
      await new Promise((resolve) => setTimeout(resolve, 30))
      shed.sample()
      expect(shed.reason).toBe('event-loop-delay')
      shed.sample()
      expect(shed.reason).toBeUndefined()
    } finally {
      shed.close()
    }
  })
})

describe('Fastify health routes', () => {
  it('serves /healthz and /readyz from the plugin', async () => {
    const health = createHealth()
    const app = Fastify()
    await app.register(observabilityPlugin, { health })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as AddressInfo).port
    try {
      expect((await get(port, '/readyz')).status).toBe(200)
      health.setAccepting(false)
      expect((await get(port, '/readyz')).status).toBe(503)
      expect((await get(port, '/healthz')).status).toBe(200)
    } finally {
      await app.close()
    }
  })
})
