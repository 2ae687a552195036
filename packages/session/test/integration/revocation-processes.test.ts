import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireServices, serviceUrls, spawnWorker, uniqueName } from '@scalekit/test-utils'
import { createTokens } from '../../src/index'
import type { Tokens } from '../../src/index'
import { AUDIENCE, ISSUER } from '../support/attacks'
import { edKey } from '../support/keys'

/** The stated maximum delay of a revocation between instances while Redis is reachable (the revocationSync option). */
const SYNC_MS = 2000

describe('"log out everywhere" across processes', () => {
  let redis: Redis
  let tokens: Tokens
  const key = edKey('k1')
  const prefix = uniqueName('xproc')

  beforeAll(async () => {
    await requireServices('redis')
    redis = new Redis(serviceUrls.redis)
    tokens = createTokens({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: { keys: [key] },
      redis,
      prefix,
      revocationSync: SYNC_MS,
    })
  })
  afterAll(async () => {
    await tokens.close()
    redis.disconnect()
  })

  it(`is enforced in another process within revocationSync (${SYNC_MS} ms)`, async () => {
    const { accessToken } = await tokens.issue({ sub: 'everywhere' })
    const worker = spawnWorker<{ before: string; reason: string | undefined; delayMs: number }>({
      script: new URL('./fixtures/verifier-worker.ts', import.meta.url),
      startTogether: true,
      timeoutMs: 30_000,
      env: {
        REDIS_URL: serviceUrls.redis,
        ISSUER,
        AUDIENCE,
        KEYS: JSON.stringify({ keys: [key] }),
        PREFIX: prefix,
        SYNC: `${SYNC_MS}ms`,
        TOKEN: accessToken,
      },
    })
    await worker.ready
    worker.go()
    await tokens.revoke({ sub: 'everywhere' })
    const result = await worker.result
    expect(result.before).toBe('valid')
    expect(result.reason).toBe('user')
    expect(result.delayMs).toBeLessThanOrEqual(SYNC_MS)
    await worker.exited
  })
})
