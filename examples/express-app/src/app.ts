import express from 'express'
import type { NextFunction, Request, Response } from 'express'
import { consistency } from '@scalekit/db-router/express'
import { outgoingTraceparent } from '@scalekit/observability'
import { metricsHandler, observability } from '@scalekit/observability/express'
import { runWithContext } from '@scalekit/queue'
import { byIp, rateLimit } from '@scalekit/ratelimit/express'
import { authenticate, requireRoles, session } from '@scalekit/session/express'
import { errorResponse, HttpError } from '@scalekit/example-app-core'
import type { Catalogue, Services } from '@scalekit/example-app-core'

/** The product-catalogue API on Express: the same routes as the Fastify app, over the shared catalogue. */
export function buildApp(services: Services, catalogue: Catalogue): express.Express {
  const { db, health, limits, logger, metrics, tokens } = services
  const app = express()
  const userId = (req: Request): number => Number(req.auth?.sub)
  const id = (req: Request): number => {
    const value = Number(req.params['id'])
    if (!Number.isInteger(value) || value < 1) throw new HttpError(400, 'id must be a positive integer')
    return value
  }

  // First: request id, RED metrics, access log; messages published in a request carry its request id.
  app.use(
    observability({
      metrics,
      logger,
      shed: services.shed,
      propagate: [
        (ctx, next) => {
          runWithContext({ correlationId: ctx.requestId, traceparent: outgoingTraceparent(ctx) }, next)
        },
      ],
    }),
  )
  app.get('/healthz', health.liveness)
  app.get('/readyz', health.readiness)
  app.get('/metrics', metricsHandler(metrics))

  // Every other route: per client address; login on a much stricter limit.
  app.use(rateLimit({ limiter: limits.perIp, key: byIp() }))
  app.use(express.json(), consistency(db)) // reads after this client's writes see them (x-consistency-token)
  const perUser = rateLimit({
    limiter: limits.perUser,
    key: (req) => {
      const auth = (req as unknown as Request).auth
      return auth ? `user:${auth.sub}` : undefined
    },
  })
  const signedIn = [authenticate({ tokens }), perUser]

  app.post('/login', rateLimit({ limiter: limits.login, key: byIp() }), async (req, res) => {
    const body = (req.body ?? {}) as { email?: unknown; password?: unknown }
    res.json(await catalogue.login(body.email, body.password))
  })
  app.post('/refresh', async (req, res) => {
    res.json(await catalogue.refresh((req.body as { refreshToken?: unknown } | undefined)?.refreshToken))
  })
  app.get('/me', ...signedIn, (req, res) => {
    res.json(req.auth)
  })
  app.post('/logout-everywhere', ...signedIn, async (req, res) => {
    await catalogue.logoutEverywhere(req.auth?.sub)
    res.status(204).end()
  })
  app.get('/products', async (_req, res) => {
    res.json(await catalogue.listProducts())
  })
  app.get('/products/:id', async (req, res) => {
    res.json(await catalogue.viewProduct(id(req)))
  })
  app.get('/products/:id/views', async (req, res) => {
    res.json(await catalogue.productViews(id(req)))
  })
  app.patch('/products/:id', ...signedIn, requireRoles('admin'), async (req, res) => {
    res.json(await catalogue.updateProduct(id(req), (req.body ?? {}) as Record<string, unknown>))
  })
  // Admin only: this instance's product reads that reached the database (the cache's factory calls) and view writes.
  app.get('/admin/stats', ...signedIn, requireRoles('admin'), (_req, res) => {
    res.json(catalogue.stats())
  })
  // Admin only: takes the order worker's dead letters (removes and returns them).
  app.post('/admin/dead-letters', ...signedIn, requireRoles('admin'), async (_req, res) => {
    res.json(await catalogue.takeDeadLetters())
  })
  // A server session (cookie) on one route: the visitor's cart, no login needed.
  const withSession = session(services.sessions, { cookie: services.cookie })
  app.get('/cart', withSession, (req, res) => {
    res.json({ items: req.serverSession?.get('cart') ?? [] })
  })
  app.post('/cart', withSession, async (req, res) => {
    const product = await catalogue.getProduct(
      Number((req.body as { productId?: unknown } | undefined)?.productId),
    )
    const items = [...((req.serverSession?.get('cart') as number[] | undefined) ?? []), product.id]
    await req.serverSession?.set({ cart: items }) // creates the session and its cookie on the first item
    res.json({ items })
  })
  app.post('/orders', ...signedIn, async (req, res) => {
    res.status(201).json(await catalogue.placeOrder(userId(req), (req.body ?? {}) as Record<string, unknown>))
  })
  app.get('/orders/:id', ...signedIn, async (req, res) => {
    res.json(await catalogue.getOrder(userId(req), id(req)))
  })
  app.get('/orders/:id/emails', ...signedIn, async (req, res) => {
    await catalogue.getOrder(userId(req), id(req)) // only the owner's
    res.json(await catalogue.sentEmails(userId(req), id(req)))
  })

  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error)
      return
    }
    const { status, body } = errorResponse(error)
    if (status >= 500) logger.error({ err: error }, 'request failed')
    res.status(status).json(body)
  })
  return app
}
