/**
 * One HTTP server for the middleware scenario, in a process of its own so its CPU time per request
 * can be read alone: `<framework>-<variant>` with framework `express` or `fastify` and variant
 * `bare`, `redis` (a GCRA limiter on Redis per request, keyed by client address, never running out)
 * or `memory` (the same limiter in memory), and `-before` for the build in SK_RL_BEFORE. Reports its
 * port, then its CPU usage on "cpu".
 */
import type { AddressInfo } from 'node:net'
import express from 'express'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import * as current from '@scalekit/ratelimit'
import * as currentExpress from '@scalekit/ratelimit/express'
import * as currentFastify from '@scalekit/ratelimit/fastify'

const [framework = 'express', variant = 'bare', build] = (process.argv[2] ?? 'express-bare').split('-')
// `<framework>-<variant>-before`: the same server on the build in SK_RL_BEFORE (a dist folder).
const before = build === 'before' ? process.env.SK_RL_BEFORE : undefined
const { createRateLimiter } = (
  before === undefined ? current : await import(`${before}/index.js`)
) as typeof current
const ex = (
  before === undefined ? currentExpress : await import(`${before}/express.js`)
) as typeof currentExpress
const fa = (
  before === undefined ? currentFastify : await import(`${before}/fastify.js`)
) as typeof currentFastify
const redisUrl = process.argv[3] ?? 'redis://127.0.0.1:6379'
const prefix = (process.argv[4] ?? 'bench').replace(/[^A-Za-z0-9_.:-]/g, '-')
const redis = new Redis(redisUrl)
const limiter = createRateLimiter({
  ...(variant === 'redis' ? { redis } : {}),
  namespace: `${prefix}-http-${framework}-${build ?? 'current'}`,
  limit: 1_000_000,
  period: '1m',
  // On a loaded 2-core machine a round trip under autocannon can pass the default 100 ms: measure the
  // limiter's cost, not its fallback.
  timeout: '2s',
})
const rule = { limiter, key: ex.byIp() }
const body = { id: 1, name: 'user' }

let port: number
if (framework === 'express') {
  const app = express()
  if (variant === 'bare') app.get('/r', (_req, res) => void res.json(body))
  else app.get('/r', ex.rateLimit(rule), (_req, res) => void res.json(body))
  const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => {
      resolve(s)
    })
  })
  port = (server.address() as AddressInfo).port
} else {
  const app = Fastify()
  if (variant === 'bare') app.get('/r', (_req, reply) => void reply.send(body))
  else app.get('/r', { onRequest: fa.rateLimitHook(rule) }, (_req, reply) => void reply.send(body))
  await app.listen({ port: 0, host: '127.0.0.1' })
  port = (app.server.address() as AddressInfo).port
}
process.on('message', (m) => {
  if (m === 'cpu') process.send?.({ cpu: process.cpuUsage() })
})
process.send?.({ port })
