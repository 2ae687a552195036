import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { serviceUrls, uniqueName } from '@scalekit/test-utils'
import { sharedRedis } from './support'
import { createCache } from '../../src/index'

const namespace = uniqueName('crypt')
const { redis, cleanup } = sharedRedis(namespace)
afterAll(cleanup)
const k1 = { id: 'k1', key: randomBytes(32).toString('base64') }
const k2 = { id: 'k2', key: randomBytes(32).toString('hex') }

describe('encryption at rest in Redis', () => {
  it('stores ciphertext, reads it back, and keeps old entries readable after a key rotation', async () => {
    const secret = { email: 'ada@example.com', at: new Date(0) }
    const before = createCache({ namespace, redis: serviceUrls.redis, l1: false, encryption: { keys: [k1] } })
    await before.set('user:1', secret)
    const raw = await redis.get(`sk:{${namespace}:user:1}`)
    expect(raw).toMatch(/\|\d+:\d+:w:v1\.k1\./)
    expect(raw).not.toContain('ada@example.com')
    await before.close()

    const rotated = createCache({
      namespace,
      redis: serviceUrls.redis,
      l1: false,
      encryption: { keys: [k2, k1] },
    })
    expect(await rotated.get('user:1')).toStrictEqual(secret)
    await rotated.set('user:2', 'new')
    expect(await redis.get(`sk:{${namespace}:user:2}`)).toMatch(/\|\d+:\d+:w:v1\.k2\./)
    await rotated.close()

    // Once k1 is retired, its entries are misses (and an event), never a crash or garbage.
    const retired = createCache({
      namespace,
      redis: serviceUrls.redis,
      l1: false,
      encryption: { keys: [k2] },
    })
    expect(await retired.get('user:1')).toBeUndefined()
    expect(await retired.get('user:2')).toBe('new')
    expect(await retired.getOrSet('user:1', () => 'recomputed')).toBe('recomputed')
    await retired.close()
  })

  it('an entry copied to another key does not decrypt there', async () => {
    const cache = createCache({ namespace, redis: serviceUrls.redis, l1: false, encryption: { keys: [k1] } })
    await cache.set('a', 'for a only')
    await redis.copy(`sk:{${namespace}:a}`, `sk:{${namespace}:b}`)
    expect(await cache.get('b')).toBeUndefined()
    await cache.close()
  })
})
