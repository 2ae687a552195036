import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import Fastify from 'fastify'
import * as ex from '../../src/adapters/express'
import * as fa from '../../src/adapters/fastify'
import type { RateLimitMiddlewareOptions, RateLimitRule } from '../../src/adapters/http'

/** A running app and how to stop it. */
export interface App {
  readonly url: string
  close(): Promise<void>
}

export type Framework = 'express' | 'fastify'

/**
 * The same routes on Express and Fastify, limited by `rules` through the package's adapter:
 * `/items/:id`, `/healthz`. A request with an `x-user` header is "authenticated" as that user
 * (`req.user = { sub }`, as @scalekit/session sets it) before the limiter runs.
 */
export async function startApp(
  framework: Framework,
  rules: RateLimitRule | readonly RateLimitRule[],
  options?: RateLimitMiddlewareOptions,
): Promise<App> {
  return framework === 'express' ? startExpress(rules, options) : startFastify(rules, options)
}

async function startExpress(
  rules: RateLimitRule | readonly RateLimitRule[],
  options?: RateLimitMiddlewareOptions,
): Promise<App> {
  const app = express()
  app.use((req, _res, next) => {
    const user = req.headers['x-user']
    if (typeof user === 'string') (req as { user?: unknown }).user = { sub: user }
    next()
  })
  const limit = ex.rateLimit(rules, options)
  app.get('/items/:id', limit, (req, res) => {
    res.json({ id: req.params.id })
  })
  app.get('/healthz', limit, (_req, res) => {
    res.json({ ok: true })
  })
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => {
      resolve(s)
    })
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) =>
        server.close(() => {
          resolve()
        }),
      ),
  }
}

async function startFastify(
  rules: RateLimitRule | readonly RateLimitRule[],
  options?: RateLimitMiddlewareOptions,
): Promise<App> {
  const app = Fastify()
  app.decorateRequest('user', null)
  app.addHook('onRequest', async (request) => {
    const user = request.headers['x-user']
    if (typeof user === 'string') (request as { user?: unknown }).user = { sub: user }
    await Promise.resolve()
  })
  await app.register(fa.rateLimitPlugin, { rules, ...options })
  app.get('/items/:id', (request, reply) => {
    void reply.send({ id: (request.params as { id: string }).id })
  })
  app.get('/healthz', (_request, reply) => {
    void reply.send({ ok: true })
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    close: () => app.close(),
  }
}
