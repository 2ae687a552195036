/**
 * One HTTP server of the observability benchmark, in a process of its own so its CPU time per
 * request can be read apart from the load generator's: `server.ts <express|fastify> <variant>`.
 * It reports its port over IPC and answers `cpu` with `process.cpuUsage()`.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import * as current from '@scalekit/observability'
import * as currentExpress from '@scalekit/observability/express'
import * as currentFastify from '@scalekit/observability/fastify'
import express from 'express'
import promBundle from 'express-prom-bundle'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyMetrics from 'fastify-metrics'
import pino from 'pino'
import { pinoHttp } from 'pino-http'
import { Histogram, Registry } from 'prom-client'
import { answerCpuRequests } from '../http-servers'

const [framework, name] = process.argv.slice(2) as [string, string]

/**
 * `<variant>@base` runs the variant on another build of the package — the `dist` folder under
 * `SK_OBS_BASE` (default `packages/observability/node_modules/.obs-base`, a copy of an earlier
 * build) — so a change is compared before/after within one run.
 */
const onBase = name.endsWith('@base')
const variant = onBase ? name.slice(0, -'@base'.length) : name
const baseDist = `${process.env.SK_OBS_BASE ?? fileURLToPath(new URL('../../../packages/observability/node_modules/.obs-base', import.meta.url))}/dist`
const [{ createLogger, createMetrics }, { metricsHandler, observability }, { observabilityPlugin }] = onBase
  ? ((await Promise.all([
      import(`${baseDist}/index.js`),
      import(`${baseDist}/express.js`),
      import(`${baseDist}/fastify.js`),
    ])) as [typeof current, typeof currentExpress, typeof currentFastify])
  : [current, currentExpress, currentFastify]

/**
 * Every logger writes to /dev/null through the same buffered pino destination: asynchronous (each
 * 4 KiB goes through libuv's thread pool), or synchronous with `SK_OBS_SYNC_DESTINATION=1`.
 */
function destination(): pino.DestinationStream {
  return pino.destination({
    dest: '/dev/null',
    minLength: 4096,
    sync: process.env.SK_OBS_SYNC_DESTINATION === '1',
  })
}

function handWrittenHistogram(registry: Registry): Histogram<'method' | 'route' | 'status_code'> {
  return new Histogram({
    name: 'http_request_duration_seconds',
    help: 'hand-written',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
}

async function expressServer(): Promise<number> {
  const app = express()
  const metrics = createMetrics()
  const logger = createLogger({ destination: destination() })
  const registry = new Registry()
  if (variant === 'metrics') app.use(observability({ metrics }))
  if (variant === 'logs') app.use(observability({ logger }))
  if (variant === 'logs-no-context') app.use(observability({ logger, context: false }))
  if (variant === 'metrics+logs') app.use(observability({ metrics, logger }))
  if (variant === 'prom-client') {
    const histogram = handWrittenHistogram(registry)
    app.use((req, res, next) => {
      const end = histogram.startTimer()
      res.once('finish', () => {
        const route = (req.route as { path?: string } | undefined)?.path
        end({
          method: req.method,
          route: route === undefined ? 'unmatched' : req.baseUrl + route,
          status_code: res.statusCode,
        })
      })
      next()
    })
  }
  // The runtime's floor for a request context: nothing but AsyncLocalStorage.run per request.
  if (variant === 'als-floor') {
    const storage = new AsyncLocalStorage<object>()
    app.use((_req, _res, next) => {
      storage.run({}, next)
    })
  }
  if (variant === 'express-prom-bundle')
    app.use(promBundle({ includeMethod: true, includePath: true, promRegistry: registry }))
  if (variant === 'pino-http') app.use(pinoHttp({ logger: pino(destination()) }))
  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id })
  })
  if (variant === 'metrics' || variant === 'metrics+logs') app.get('/metrics', metricsHandler(metrics))
  else if (variant !== 'express-prom-bundle')
    app.get('/metrics', (_req, res) => {
      void registry.metrics().then((text) => res.type('text/plain').send(text))
    })
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  return (server.address() as AddressInfo).port
}

/** Whether a floor variant has `part`: floors combine with `+` (`prom-client+log-floor`). */
const hasPart = (part: string): boolean => variant.split('+').includes(part)

async function fastifyServer(): Promise<number> {
  const app: FastifyInstance =
    variant === 'fastify-logger' ? Fastify({ logger: { stream: destination() } }) : Fastify()
  const metrics = createMetrics()
  const logger = createLogger({ destination: destination() })
  const registry = new Registry()
  if (variant === 'metrics') await app.register(observabilityPlugin, { metrics })
  if (variant === 'logs') await app.register(observabilityPlugin, { logger, metricsPath: false })
  if (variant === 'logs-no-context')
    await app.register(observabilityPlugin, { logger, metricsPath: false, context: false })
  if (variant === 'metrics+logs') await app.register(observabilityPlugin, { metrics, logger })
  // Where the cost of metrics beside logs goes: metrics with the context and no line, and with the line and no context.
  if (variant === 'metrics+context') await app.register(observabilityPlugin, { metrics, context: true })
  if (variant === 'metrics+logs-no-context')
    await app.register(observabilityPlugin, { metrics, logger, context: false })
  // Where the cost of logs goes: the request context without any line, and with no access line.
  if (variant === 'context-only')
    await app.register(observabilityPlugin, { context: true, metricsPath: false })
  if (variant === 'logs-no-access')
    await app.register(observabilityPlugin, { logger, accessLog: false, metricsPath: false })
  if (hasPart('prom-client')) {
    const histogram = handWrittenHistogram(registry)
    const starts = new WeakMap<object, (labels: Record<string, string | number>) => number>()
    app.addHook('onRequest', (request, _reply, done) => {
      starts.set(request, histogram.startTimer())
      done()
    })
    app.addHook('onResponse', (request, reply, done) => {
      starts.get(request)?.({
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: reply.statusCode,
      })
      done()
    })
    app.get('/metrics', async () => registry.metrics())
  }
  // The runtime's floor for a request context: nothing but AsyncLocalStorage per request, entered
  // around the rest of the request (run) or for the rest of the hook's turn (enterWith).
  if (hasPart('als-floor') || variant === 'als-enterwith-floor') {
    const storage = new AsyncLocalStorage<object>()
    const enterWith = variant === 'als-enterwith-floor'
    app.addHook('onRequest', (_request, _reply, done) => {
      if (enterWith) {
        storage.enterWith({})
        done()
      } else storage.run({}, done)
    })
  }
  // The floor of an access line: one hook that writes one pino line of the access line's fields to
  // the same destination, with no request context and fixed ids of the same shape.
  if (hasPart('log-floor')) {
    const line = pino(destination())
    app.addHook('onResponse', (request, reply, done) => {
      line.info(
        {
          requestId: '5b7e2f0c-5a4e-4b8e-9f0e-6f3f1c2a9d10',
          traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
          spanId: '00f067aa0ba902b7',
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          statusCode: reply.statusCode,
          durationMs: Math.round(reply.elapsedTime * 1000) / 1000,
        },
        'request completed',
      )
      done()
    })
  }
  if (variant === 'fastify-metrics')
    await app.register(fastifyMetrics, { endpoint: '/metrics', defaultMetrics: { enabled: true } })
  app.get('/users/:id', (request) => Promise.resolve({ id: (request.params as { id: string }).id }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as AddressInfo).port
}

process.on('SIGINT', () => process.exit(0))
const port = framework === 'express' ? await expressServer() : await fastifyServer()
answerCpuRequests()
process.send?.({ port })
