import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedisServer, waitFor } from '@scalekit/test-utils'
import type { RedisServer } from '@scalekit/test-utils'
import { createApiKeys, createSessions, createTokens } from '../../src/index'
import type { ApiKeys, Sessions, Tokens } from '../../src/index'
import { AUDIENCE, ISSUER } from '../support/attacks'
import type { App } from '../support/apps'
import { call, sessionCookie, startExpress, startFastify } from '../support/apps'
import { edKey } from '../support/keys'

/** Redis stopped for real (a private server): server sessions fail closed with 503, JWT keeps working. */
describe('Redis stopped', () => {
  let server: RedisServer
  let redis: Redis
  let tokens: Tokens
  let sessions: Sessions
  let apiKeys: ApiKeys
  const apps: App[] = []

  beforeAll(async () => {
    server = await startRedisServer()
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 })
    redis.on('error', () => undefined)
    tokens = createTokens({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: { keys: [edKey('k')] },
      redis,
      timeout: '500ms',
    })
    sessions = createSessions({ redis, timeout: '500ms' })
    apiKeys = createApiKeys()
    apps.push(
      await startExpress({ tokens, sessions, apiKeys }),
      await startFastify({ tokens, sessions, apiKeys }),
    )
  })
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()))
    await Promise.all([tokens.close(), sessions.close(), apiKeys.close()])
    redis.disconnect()
    await server.close()
  })

  it('session routes answer 503 (bounded by the timeout), JWT routes keep answering 200', async () => {
    const { accessToken, refreshToken } = await tokens.issue({ sub: 'u1' })
    const cookies = await Promise.all(
      apps.map(async (a) => sessionCookie(await call(`${a.url}/visit`)) as string),
    )
    await server.stop()
    for (const [i, app] of apps.entries()) {
      const reply = await call(`${app.url}/whoami`, { headers: { cookie: cookies[i] as string } })
      expect(reply).toMatchObject({ status: 503, body: { code: 'ERR_SESSION_STORE_UNAVAILABLE' } })
      expect(
        (await call(`${app.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status,
      ).toBe(200)
    }
    expect(sessions.health()).toMatchObject({ status: 'down', storeAvailable: false })
    expect(tokens.health().status).toBe('degraded')
    // Refresh needs the family in Redis: it fails closed too.
    await expect(tokens.refresh(refreshToken)).rejects.toMatchObject({
      code: 'ERR_SESSION_STORE_UNAVAILABLE',
    })
    // Back: sessions answer again (the data is gone with this Redis, which kept none).
    await server.restart()
    await waitFor(
      async () =>
        (await call(`${apps[0]?.url as string}/whoami`, { headers: { cookie: cookies[0] as string } }))
          .status === 200,
      { timeout: 15_000, message: 'session routes answer again once Redis is back' },
    )
    expect(sessions.health().storeAvailable).toBe(true)
  })
})
