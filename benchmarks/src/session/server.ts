/**
 * One Express server for the HTTP scenario, in a process of its own so its CPU time per request can
 * be read alone: `bare`, `bare2` (the same again: two processes of one code, the method's own noise),
 * `hop` (a middleware that calls `next()` after a microtask: the floor of any async middleware),
 * `als-hop` (the same inside `AsyncLocalStorage.run`: the floor of a middleware with a request
 * context), `jwt` (authenticate with the verified-token cache), `jwt-nocontext` (the same with
 * `context: false`: no AsyncLocalStorage per request), `jwt-nocache`, `session` (a server session
 * loaded from Redis per request), `express-session` (express-session 1.19 + connect-redis 9 on
 * node-redis, the peer). Reports its port, then its CPU usage on "cpu".
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { AddressInfo } from 'node:net'
import { generateKeyPairSync } from 'node:crypto'
import { createHmac } from 'node:crypto'
import { RedisStore } from 'connect-redis'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { answerCpuRequests } from '../http-servers'
import { express, expressSession, session, sessionExpress } from './peers'

const variant = process.argv[2] ?? 'bare'
const redisUrl = process.argv[3] ?? 'redis://127.0.0.1:6379'
const prefix = process.argv[4] ?? 'bench'
const jwk = {
  ...(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as object),
  kid: 'k',
  alg: 'EdDSA',
}
const redis = new Redis(redisUrl)
const tokens = session.createTokens({
  issuer: 'https://auth.bench',
  audience: 'api',
  keys: { keys: [jwk] },
  cacheSize: variant === 'jwt-nocache' ? 0 : 10_000,
})
const sessions = session.createSessions({ redis, prefix })
const SECRET = 'a-bench-secret-of-at-least-32-chars!'
const nodeRedis = variant === 'express-session' ? createClient({ url: redisUrl }) : undefined
await nodeRedis?.connect()
const connectRedis =
  nodeRedis === undefined ? undefined : new RedisStore({ client: nodeRedis, prefix: `${prefix}:cr:` })
const app = express()
const floorStorage = new AsyncLocalStorage<object>()
type Req = { serverSession?: { userId?: string }; session?: { userId?: unknown } }
type Res = { json(body: unknown): void; status(code: number): Res }
const handler = (req: Req, res: Res): void => {
  // The session variants answer 401 unless the request's session was found: non2xx counts misses.
  const missing =
    (variant === 'session' && req.serverSession?.userId !== 'u1') ||
    (variant === 'express-session' && req.session?.userId !== 'u1')
  if (missing) res.status(401).json({})
  else res.json({ id: 1, name: 'user' })
}
if (variant === 'bare' || variant === 'bare2') app.get('/r', handler)
else if (variant === 'session')
  app.get(
    '/r',
    sessionExpress.session(sessions, { cookie: { secret: 'a-bench-secret-of-at-least-32-chars!' } }),
    handler,
  )
else if (variant === 'express-session')
  app.get(
    '/r',
    expressSession({
      store: connectRedis,
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 1_800_000 },
    }),
    handler,
  )
else if (variant === 'hop')
  app.get(
    '/r',
    (_req: unknown, _res: unknown, next: () => void) => {
      void Promise.resolve().then(next)
    },
    handler,
  )
else if (variant === 'als-hop')
  app.get(
    '/r',
    (_req: unknown, _res: unknown, next: () => void) => {
      floorStorage.run({}, () => {
        void Promise.resolve().then(next)
      })
    },
    handler,
  )
else if (variant === 'jwt-nocontext')
  app.get('/r', sessionExpress.authenticate({ tokens, context: false }), handler)
else app.get('/r', sessionExpress.authenticate({ tokens }), handler)

const server = app.listen(0, '127.0.0.1', () => {
  void (async () => {
    const { accessToken } = await tokens.issue({ sub: 'u1' })
    const { id } = await sessions.create({ userId: 'u1', data: { a: 1 } })
    const signed = `${id}.${createHmac('sha256', SECRET).update(id).digest('base64url')}`
    // express-session's cookie: `s:` + id + `.` + base64 HMAC-SHA256 without padding (cookie-signature).
    const sid = 'bench-sid-1'
    const cookie = {
      originalMaxAge: 1_800_000,
      expires: new Date(Date.now() + 1_800_000),
      httpOnly: true,
      path: '/',
    }
    await connectRedis?.set(sid, { cookie, userId: 'u1', a: 1 } as never)
    const esSigned = `s:${sid}.${createHmac('sha256', SECRET).update(sid).digest('base64').replace(/=+$/, '')}`
    process.send?.({
      port: (server.address() as AddressInfo).port,
      accessToken,
      cookie:
        variant === 'express-session'
          ? `connect.sid=${encodeURIComponent(esSigned)}`
          : `__Host-sid=${signed}`,
    })
  })()
})
answerCpuRequests()
