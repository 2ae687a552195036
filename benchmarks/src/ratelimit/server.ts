/**
 * One HTTP server for the middleware scenario, in a process of its own so its CPU time per request
 * can be read alone: `<framework>-<variant>` with framework `express` or `fastify` and variant
 * `bare`, `redis` (a GCRA limiter on Redis per request, keyed by client address, never running out)
 * or `memory` (the same limiter in memory), and `-before` for the build in SK_RL_BEFORE; and two
 * floors with no limiter: `evalsha` (one raw EVALSHA of our GCRA script per request, keyed by client
 * address) and `incr` (raw INCR, and PEXPIRE when it created the key); and for Fastify, `headers`: an
 * onRequest hook that only sets our two headers, constant (what any such hook costs in Fastify),
 * `dynamic`: the same with the `RateLimit` value built per request, and `promise`: the constant
 * headers set after one resolved promise (what waiting on any promise costs there). The limiter is
 * named `per-ip`, so its headers and the floors' have the same length. Reports its port, then its
 * CPU usage on "cpu".
 */
import type { AddressInfo } from 'node:net'
import express from 'express'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { answerCpuRequests } from '../http-servers'
import * as current from '@scalekit/ratelimit'
import * as currentExpress from '@scalekit/ratelimit/express'
import * as currentFastify from '@scalekit/ratelimit/fastify'
import { gcraParams } from '../../../packages/ratelimit/src/algorithms'
import { scriptCall } from '../../../packages/ratelimit/src/drivers/redis/scripts'

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
  // The name the headers carry: short, as an app's would be, and the floors' (`headers`, `promise`).
  name: 'per-ip',
  limit: 1_000_000,
  period: '1m',
  // On a loaded 2-core machine a round trip under autocannon can pass the default 100 ms: measure the
  // limiter's cost, not its fallback.
  timeout: '2s',
})
const rule = { limiter, key: ex.byIp() }
const body = { id: 1, name: 'user' }
// What the floors send: the limiter's two headers as it sends them on an allowed request, constant.
const floorHeaders = { 'RateLimit-Policy': '"per-ip";q=1000000;w=60', RateLimit: '"per-ip";r=999999;t=1' }

// The floors: the Redis call a Redis-backed limiter cannot avoid, with no limiter logic around it.
const gcra = scriptCall('gcra', gcraParams(1_000_000, 60_000, 1_000_000))
await redis.script('LOAD', gcra.script.source)
const floorPrefix = `${prefix}-http-${framework}-floor`
const floor: ((ip: string) => Promise<unknown>) | undefined =
  variant === 'evalsha'
    ? (ip) => redis.evalsha(gcra.script.sha, 1, `${floorPrefix}:${ip}`, ...gcra.args(1, 0))
    : variant === 'incr'
      ? async (ip) => {
          const k = `${floorPrefix}:${ip}:${Math.floor(Date.now() / 60_000)}`
          if ((await redis.incr(k)) === 1) await redis.pexpire(k, 60_000)
        }
      : undefined

let port: number
if (framework === 'express') {
  const app = express()
  if (variant === 'bare') app.get('/r', (_req, res) => void res.json(body))
  else if (floor !== undefined)
    app.get(
      '/r',
      (req, _res, next) => {
        floor(req.socket.remoteAddress ?? '').then(() => {
          next()
        }, next)
      },
      (_req, res) => void res.json(body),
    )
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
  else if (variant === 'promise')
    app.get(
      '/r',
      {
        // The same two headers, set after one resolved promise: what any hook that waits on a
        // promise-returning limiter pays in Fastify (ours waits only on a decision that goes to Redis).
        onRequest: (_request, reply, done) => {
          void Promise.resolve().then(() => {
            void reply.headers(floorHeaders)
            done()
          })
        },
      },
      (_req, reply) => void reply.send(body),
    )
  else if (variant === 'dynamic') {
    // The same two headers, `RateLimit` built per request as ours is (a count going down, the
    // seconds to reset): what sending a per-request header value costs (Node checks and copies it).
    let remaining = 1_000_000
    app.get(
      '/r',
      {
        onRequest: (_request, reply, done) => {
          remaining = remaining > 1 ? remaining - 1 : 1_000_000
          void reply
            .header('ratelimit-policy', floorHeaders['RateLimit-Policy'])
            .header('ratelimit', `"per-ip";r=${remaining};t=${Math.ceil(remaining / 1_000_000)}`)
          done()
        },
      },
      (_req, reply) => void reply.send(body),
    )
  } else if (variant === 'headers')
    app.get(
      '/r',
      {
        onRequest: (_request, reply, done) => {
          void reply.headers(floorHeaders)
          done()
        },
      },
      (_req, reply) => void reply.send(body),
    )
  else if (floor !== undefined)
    app.get(
      '/r',
      {
        onRequest: (request, _reply, done) => {
          floor(request.raw.socket.remoteAddress ?? '').then(() => {
            done()
          }, done)
        },
      },
      (_req, reply) => void reply.send(body),
    )
  else app.get('/r', { onRequest: fa.rateLimitHook(rule) }, (_req, reply) => void reply.send(body))
  await app.listen({ port: 0, host: '127.0.0.1' })
  port = (app.server.address() as AddressInfo).port
}
answerCpuRequests()
process.send?.({ port })
