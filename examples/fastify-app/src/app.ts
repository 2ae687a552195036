import Fastify from 'fastify'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { dbRouterPlugin } from '@scalekit/db-router/fastify'
import { outgoingTraceparent } from '@scalekit/observability'
import { observabilityPlugin } from '@scalekit/observability/fastify'
import { runWithContext } from '@scalekit/queue'
import { byIp, rateLimitHook, rateLimitPlugin } from '@scalekit/ratelimit/fastify'
import { authenticate, session, sessionPlugin } from '@scalekit/session/fastify'
import { errorResponse, HttpError } from '@scalekit/example-app-core'
import type { Catalogue, Services } from '@scalekit/example-app-core'

type Body = Record<string, unknown> | undefined

/** The product-catalogue API on Fastify: the same routes as the Express app, over the shared catalogue. */
export async function buildApp(services: Services, catalogue: Catalogue): Promise<FastifyInstance> {
  const { db, health, limits, logger, metrics, tokens } = services
  const app = Fastify()
  const userId = (request: FastifyRequest): number => Number(request.auth?.sub)
  const id = (request: FastifyRequest): number => {
    const value = Number((request.params as { id: string }).id)
    if (!Number.isInteger(value) || value < 1) throw new HttpError(400, 'id must be a positive integer')
    return value
  }

  // Request id, RED metrics, access log, /metrics, /healthz, /readyz; messages published in a request carry its id.
  await app.register(observabilityPlugin, {
    metrics,
    logger,
    shed: services.shed,
    health,
    propagate: [
      (ctx, next) => {
        runWithContext({ correlationId: ctx.requestId, traceparent: outgoingTraceparent(ctx) }, next)
      },
    ],
  })
  // Every route but the probes: per client address. Login adds a much stricter one.
  await app.register(rateLimitPlugin, {
    rules: [{ limiter: limits.perIp, key: byIp() }],
    skipPaths: ['/healthz', '/readyz', '/metrics'],
  })
  await app.register(dbRouterPlugin, { db }) // reads after this client's writes see them (x-consistency-token)
  await app.register(sessionPlugin)
  const perUser = rateLimitHook({
    limiter: limits.perUser,
    key: (request) => {
      const auth = (request as unknown as FastifyRequest).auth
      return auth ? `user:${auth.sub}` : undefined
    },
  })
  const signedIn = { onRequest: [authenticate({ tokens }), perUser] }
  const admin = { onRequest: [authenticate({ tokens, roles: ['admin'] }), perUser] }

  app.setErrorHandler(async (error, _request, reply) => {
    const { status, body } = errorResponse(error)
    if (status >= 500) logger.error({ err: error }, 'request failed')
    return reply.code(status).send(body)
  })

  app.post(
    '/login',
    { onRequest: rateLimitHook({ limiter: limits.login, key: byIp() }) },
    async (request) => {
      const body = (request.body ?? {}) as { email?: unknown; password?: unknown }
      return catalogue.login(body.email, body.password)
    },
  )
  app.post('/refresh', async (request) => catalogue.refresh((request.body as Body)?.['refreshToken']))
  app.get('/me', signedIn, (request) => request.auth)
  app.post('/logout-everywhere', signedIn, async (request, reply) => {
    await catalogue.logoutEverywhere(request.auth?.sub)
    return reply.code(204).send()
  })
  app.get('/products', async () => catalogue.listProducts())
  app.get('/products/:id', async (request) => catalogue.viewProduct(id(request)))
  app.get('/products/:id/views', async (request) => catalogue.productViews(id(request)))
  app.patch('/products/:id', admin, async (request) =>
    catalogue.updateProduct(id(request), (request.body ?? {}) as Record<string, unknown>),
  )
  // Admin only: this instance's product reads that reached the database (the cache's factory calls) and view writes.
  app.get('/admin/stats', admin, () => catalogue.stats())
  // Admin only: takes the order worker's dead letters (removes and returns them).
  app.post('/admin/dead-letters', admin, async () => catalogue.takeDeadLetters())
  // A server session (cookie) on one route: the visitor's cart, no login needed.
  const withSession = { onRequest: session(services.sessions, { cookie: services.cookie }) }
  app.get('/cart', withSession, (request) => ({ items: request.serverSession?.get('cart') ?? [] }))
  app.post('/cart', withSession, async (request) => {
    const product = await catalogue.getProduct(Number((request.body as Body)?.['productId']))
    const items = [...((request.serverSession?.get('cart') as number[] | undefined) ?? []), product.id]
    await request.serverSession?.set({ cart: items }) // creates the session and its cookie on the first item
    return { items }
  })
  app.post('/orders', signedIn, async (request, reply) =>
    reply
      .code(201)
      .send(await catalogue.placeOrder(userId(request), (request.body ?? {}) as Record<string, unknown>)),
  )
  app.get('/orders/:id', signedIn, async (request) => catalogue.getOrder(userId(request), id(request)))
  app.get('/orders/:id/emails', signedIn, async (request) => {
    await catalogue.getOrder(userId(request), id(request)) // only the owner's
    return catalogue.sentEmails(userId(request), id(request))
  })
  return app
}
