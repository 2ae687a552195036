import { createServer } from 'node:http'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { AddressInfo } from 'node:net'
import express from 'express'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { requireServices, serviceUrls, uniqueName } from '@scalekit/test-utils'
import { createTokens, currentAuth } from '../../src/index'
import type { Principal, Tokens, TokensOptions } from '../../src/index'
import * as ex from '../../src/adapters/express'
import * as fa from '../../src/adapters/fastify'
import type { App, Reply } from '../support/apps'
import { call, listening } from '../support/apps'
import { AUDIENCE, ISSUER } from '../support/attacks'
import { edKey } from '../support/keys'

/**
 * A token already in the verified-token cache takes the adapters' synchronous path (`next()` in the
 * same tick). Each route below runs twice: on a token service with the cache, and on one without it
 * (every request on the promise path, as before); both answer alike, refusals included.
 */
const key = edKey('k1')
let redis: Redis
/** With the cache: the synchronous path. */
let cached: Tokens
/** The same keys and revocations without the cache: the promise path. */
let uncached: Tokens
/** Another instance on the same Redis: its revocations reach the two above by push. */
let other: Tokens
/** Stateless pair (no Redis) for the tests that move the clock. */
let stateless: { cached: Tokens; uncached: Tokens }
const apps: Record<'express' | 'fastify', App> = {} as never
/** The Authorization headers of requests the middleware refused in the tick it was called in. */
const refusedInTick = new Set<string>()

/** Which tokens each route suffix uses. */
function routes(): [string, Tokens][] {
  return [
    ['', cached],
    ['-async', uncached],
    ['-stateless', stateless.cached],
    ['-stateless-async', stateless.uncached],
  ]
}

beforeAll(async () => {
  await requireServices('redis')
  redis = new Redis(serviceUrls.redis)
  const prefix = uniqueName('auth-cached')
  const options: TokensOptions = { issuer: ISSUER, audience: AUDIENCE, keys: { keys: [key] }, redis, prefix }
  cached = createTokens(options)
  uncached = createTokens({ ...options, cacheSize: 0 })
  other = createTokens(options)
  const { redis: _redis, prefix: _prefix, ...alone } = options
  stateless = { cached: createTokens(alone), uncached: createTokens({ ...alone, cacheSize: 0 }) }
  // Both token services listen for pushes before a test revokes anything.
  await vi.waitFor(() => {
    expect([cached.health(), uncached.health()].map((h) => h.revocation)).toEqual([
      { synced: true, subscribed: true },
      { synced: true, subscribed: true },
    ])
  })
  apps.express = await startExpress()
  apps.fastify = await startFastify()
})
afterAll(async () => {
  await Promise.all(Object.values(apps).map((a) => a.close()))
  await Promise.all([cached, uncached, other, stateless.cached, stateless.uncached].map((t) => t.close()))
  redis.disconnect()
})
afterEach(() => {
  vi.useRealTimers()
})

/** What a handler answers: who the request is, through `req.auth` and `currentAuth()` (also after an await). */
async function whoami(auth: Principal | null | undefined, sameTick: boolean): Promise<object> {
  const fromContext = currentAuth()
  await nextTurn()
  return {
    auth,
    fromContext: fromContext === undefined ? null : fromContext === auth,
    afterAwait: currentAuth() === undefined ? null : currentAuth() === auth,
    sameTick,
  }
}

async function startExpress(): Promise<App> {
  const app = express()
  const ticks = new WeakMap<object, boolean>()
  /** Records whether the middleware called `next()` in the tick it was called in. */
  const timed =
    (middleware: ex.Middleware): ex.Middleware =>
    (req, res, next) => {
      let now = true
      middleware(req, res, (error) => {
        ticks.set(req, now)
        next(error)
      })
      now = false
      if (!ticks.has(req) && res.statusCode >= 400) refusedInTick.add(req.headers.authorization ?? '')
    }
  const handler = (req: express.Request, res: express.Response): void => {
    void whoami(req.auth, ticks.get(req) === true).then((body) => res.json(body))
  }
  for (const [suffix, tokens] of routes()) {
    app.get(`/me${suffix}`, timed(ex.authenticate({ tokens })), handler)
    app.get(`/lean${suffix}`, timed(ex.authenticate({ tokens, context: false })), handler)
    app.get(`/admin${suffix}`, timed(ex.authenticate({ tokens, roles: ['admin'] })), handler)
  }
  app.get(
    '/service',
    timed(ex.authenticate({ tokens: cached, audience: 'ledger', schemes: ['service'] })),
    handler,
  )
  return listening(createServer(app))
}

async function startFastify(): Promise<App> {
  const app: FastifyInstance = Fastify()
  await app.register(fa.sessionPlugin)
  const ticks = new WeakMap<FastifyRequest, boolean>()
  /** Records whether the hook called `done()` in the tick it was called in. */
  const timed = (hook: onRequestHookHandler): onRequestHookHandler =>
    function timedHook(this: FastifyInstance, request, reply, done) {
      let now = true
      ;(hook as (...a: unknown[]) => void).call(this, request, reply, (error?: Error) => {
        ticks.set(request, now)
        done(error as never)
      })
      now = false
      if (!ticks.has(request) && reply.statusCode >= 400)
        refusedInTick.add(request.headers.authorization ?? '')
    }
  const handler = (request: FastifyRequest): Promise<object> =>
    whoami(request.auth, ticks.get(request) === true)
  for (const [suffix, tokens] of routes()) {
    app.get(`/me${suffix}`, { onRequest: timed(fa.authenticate({ tokens })) }, handler)
    app.get(`/lean${suffix}`, { onRequest: timed(fa.authenticate({ tokens, context: false })) }, handler)
    app.get(`/admin${suffix}`, { onRequest: timed(fa.authenticate({ tokens, roles: ['admin'] })) }, handler)
  }
  app.get(
    '/service',
    { onRequest: timed(fa.authenticate({ tokens: cached, audience: 'ledger', schemes: ['service'] })) },
    handler,
  )
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() }
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

/** What a client sees of a reply, without how the server got there. */
function seen(reply: Reply): object {
  const { sameTick: _sameTick, ...body } = reply.body
  return {
    status: reply.status,
    body,
    'www-authenticate': reply.headers['www-authenticate'],
    'cache-control': reply.headers['cache-control'],
  }
}

describe.each(['express', 'fastify'] as const)('%s: a cached token over real HTTP', (name) => {
  const get = (path: string, token: string): Promise<Reply> =>
    call(`${apps[name].url}${path}`, { headers: bearer(token) })

  /** Verifies the token through `path` once, so the next request finds it in the cache. */
  async function prime(path: string, token: string): Promise<void> {
    const first = await get(path, token)
    expect(first).toMatchObject({ status: 200, body: { sameTick: false } })
  }

  it.each(['/me', '/lean', '/admin'])(
    '%s: takes the synchronous path with the same req.auth and currentAuth() as the promise path',
    async (path) => {
      const { accessToken } = await cached.issue({
        sub: `${name}-u1`,
        roles: ['admin'],
        claims: { org: 'o' },
      })
      await prime(path, accessToken)
      const now = await get(path, accessToken)
      const before = await get(`${path}-async`, accessToken)
      expect(now.body['sameTick']).toBe(true)
      expect(before.body['sameTick']).toBe(false)
      expect(seen(now)).toEqual(seen(before))
      const context = path === '/lean' ? null : true
      expect(now).toMatchObject({
        status: 200,
        body: { auth: { scheme: 'bearer', sub: `${name}-u1` }, fromContext: context, afterAwait: context },
      })
    },
  )

  it.each([
    ['by token id', (jti: string) => other.revoke({ jti }), 'token'],
    ['by user', () => other.revoke({ sub: `${name}-out` }), 'user'],
  ] as const)(
    'a token revoked %s on another instance after it was cached is refused as before',
    async (_how, revoke, reason) => {
      const { accessToken } = await cached.issue({ sub: `${name}-out` })
      await prime('/me', accessToken)
      const now = await get('/me', accessToken)
      expect(now.body['sameTick']).toBe(true)
      const { jti } = (now.body['auth'] as { claims: { jti: string } }).claims
      await revoke(jti)
      // The push reaches both instances; until then the token is still accepted (the revocation delay).
      await vi.waitFor(async () => {
        expect((await get('/me', accessToken)).status).toBe(401)
        expect((await get('/me-async', accessToken)).status).toBe(401)
      })
      const refused = seen(await get('/me', accessToken))
      expect(refused).toEqual(seen(await get('/me-async', accessToken)))
      expect(refused).toMatchObject({ status: 401, body: { code: 'ERR_SESSION_REVOKED', reason } })
    },
  )

  it('a cached token past its exp: accepted within the clock tolerance, refused after, as before', async () => {
    const { accessToken } = await stateless.cached.issue({ sub: `${name}-u1` })
    await prime('/me-stateless', accessToken)
    const { exp } = await stateless.cached.verify(accessToken)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(exp * 1000 + 5000)
    const within = seen(await get('/me-stateless', accessToken))
    expect(within).toEqual(seen(await get('/me-stateless-async', accessToken)))
    expect(within).toMatchObject({ status: 200 })
    vi.setSystemTime(exp * 1000 + 11_000)
    const after = seen(await get('/me-stateless', accessToken))
    expect(after).toEqual(seen(await get('/me-stateless-async', accessToken)))
    expect(after).toMatchObject({
      status: 401,
      body: { code: 'ERR_SESSION_INVALID_TOKEN', reason: 'expired' },
    })
  })

  it('a token of another kind is refused as before, even when it is in the cache for its own rules', async () => {
    const service = await cached.issueServiceToken({ sub: 'billing', audience: 'ledger' })
    await prime('/service', service)
    const { refreshToken } = await cached.issue({ sub: `${name}-u1` })
    for (const token of [service, refreshToken]) {
      const refused = seen(await get('/me', token))
      expect(refused).toEqual(seen(await get('/me-async', token)))
      expect(refused).toMatchObject({
        status: 401,
        body: { code: 'ERR_SESSION_INVALID_TOKEN', reason: 'type' },
      })
    }
  })

  it('a cached token without the route role is refused (403) as before', async () => {
    const { accessToken } = await cached.issue({ sub: `${name}-u1`, roles: ['user'] })
    await prime('/me', accessToken)
    const refused = seen(await get('/admin', accessToken))
    expect(refusedInTick.has(`Bearer ${accessToken}`)).toBe(true)
    expect(refused).toEqual(seen(await get('/admin-async', accessToken)))
    expect(refused).toMatchObject({ status: 403, body: { code: 'ERR_SESSION_FORBIDDEN', reason: 'role' } })
    expect(refused).toMatchObject({
      'www-authenticate': 'Bearer realm="api", error="insufficient_scope"',
    })
  })
})
