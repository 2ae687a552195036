/**
 * One Express server for the HTTP scenario, in a process of its own so its CPU time per request can
 * be read alone: `bare`, `jwt` (authenticate with the verified-token cache), `jwt-nocache`, `session`
 * (a server session loaded from Redis per request). Reports its port, then its CPU usage on "cpu".
 */
import type { AddressInfo } from 'node:net'
import { generateKeyPairSync } from 'node:crypto'
import { Redis } from 'ioredis'
import { express, session, sessionExpress } from './peers'

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
const app = express()
type Res = { json(body: unknown): void }
const handler = (_req: unknown, res: Res): void => {
  res.json({ id: 1, name: 'user' })
}
if (variant === 'bare') app.get('/r', handler)
else if (variant === 'session')
  app.get(
    '/r',
    sessionExpress.session(sessions, { cookie: { secret: 'a-bench-secret-of-at-least-32-chars!' } }),
    handler,
  )
else app.get('/r', sessionExpress.authenticate({ tokens }), handler)

const server = app.listen(0, '127.0.0.1', () => {
  void (async () => {
    const { accessToken } = await tokens.issue({ sub: 'u1' })
    const { id } = await sessions.create({ userId: 'u1', data: { a: 1 } })
    const { createHmac } = await import('node:crypto')
    const signed = `${id}.${createHmac('sha256', 'a-bench-secret-of-at-least-32-chars!').update(id).digest('base64url')}`
    process.send?.({
      port: (server.address() as AddressInfo).port,
      accessToken,
      cookie: `__Host-sid=${signed}`,
    })
  })()
})
process.on('message', (message) => {
  if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() })
})
