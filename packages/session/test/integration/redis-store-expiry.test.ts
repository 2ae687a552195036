import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireServices, serviceUrls, uniqueName } from '@scalekit/test-utils'
import { createRedisStore } from '../../src/index'
import type { SessionStore, StoredSession } from '../../src/index'

/** What the Redis layout keeps of a session past its absolute timeout: nothing. */
describe('Redis session keys and the absolute timeout', () => {
  let redis: Redis
  let store: SessionStore
  const prefix = uniqueName('expiry')
  const keyOf = (key: string): string => `${prefix}:s3:{${key}}`
  const IDLE = 60_000

  beforeAll(async () => {
    await requireServices('redis')
    redis = new Redis(serviceUrls.redis)
    store = createRedisStore({ redis, prefix })
  })
  afterAll(() => {
    redis.disconnect()
  })

  const session = (now: number, absoluteMs: number): StoredSession => ({
    userId: undefined,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + absoluteMs,
    data: { a: '1' },
  })

  it('creates and updates keys that live no longer than the absolute timeout', async () => {
    const now = Date.now()
    await store.create('short', session(now, 2_000), IDLE)
    const created = await redis.pttl(keyOf('short'))
    expect(created).toBeGreaterThan(0)
    expect(created).toBeLessThanOrEqual(2_000)

    await store.create('long', session(now, 10 * IDLE), IDLE)
    expect(await redis.pttl(keyOf('long'))).toBeGreaterThan(2_000)
    // An update with 1.5 s of the absolute timeout left sets no longer a life than that.
    expect(await store.update('long', { b: '2' }, [], now + 10 * IDLE - 1_500, IDLE)).toBe(true)
    expect(await redis.pttl(keyOf('long'))).toBeLessThanOrEqual(1_500)
  })

  it('deletes a session that a load finds past its absolute timeout', async () => {
    const now = Date.now()
    await store.create('stale', session(now, 10 * IDLE), IDLE)
    // Loaded (rolling, as a replayed cookie would) after its absolute timeout: gone, key and all.
    expect(await store.load('stale', now + 10 * IDLE + 1, IDLE, true)).toBeUndefined()
    expect(await redis.exists(keyOf('stale'))).toBe(0)
  })
})
