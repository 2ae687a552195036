// Issue 12, defect 6: invalidateTags with ~8 000 tags failed in Lua's unpack after its ZADDs were
// applied: the caller got ERR_CACHE_L2_UNAVAILABLE, no bus message went out, and another instance
// kept serving the old value from L1. Now the tags go in chunks, each applied and announced in one
// script: applied ⇒ announced.
import { afterAll, describe, expect, it } from 'vitest'
import { serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import { type Cache, createCache } from '../../src/index'
import { sharedRedis } from './support'

const namespace = uniqueName('many-tags')
const { cleanup } = sharedRedis(namespace)
const caches: Cache[] = []
afterAll(async () => {
  await Promise.all(caches.map((c) => c.close()))
  await cleanup()
})

function instance(): Cache {
  // A generous timeout: 1000 ZADDs per script take longer than 250 ms on a machine this busy, and
  // what is tested is the chunking and the announcements, not the speed.
  const cache = createCache({
    namespace,
    redis: serviceUrls.redis,
    jitter: 0,
    earlyRefreshBeta: 0,
    timeout: '5s',
  })
  caches.push(cache)
  return cache
}

describe('invalidateTags with 8 000+ tags, two instances', () => {
  it('applies every tag and every other instance drops its L1 copies', async () => {
    const a = instance()
    const b = instance()
    await waitFor(() => a.health().l2?.busConnected === true && b.health().l2?.busConnected === true)
    const tags = Array.from({ length: 8_500 }, (_, i) => `tag-${i}`)
    // One entry per chunk region: the first tag, one past a chunk boundary, the last.
    const keys = { first: 'tag-0', middle: 'tag-4321', last: 'tag-8499' }
    for (const [key, tag] of Object.entries(keys)) await a.set(key, `value-${key}`, { tags: [tag] })
    for (const key of Object.keys(keys)) {
      // The first read learns the tag times from Redis, the second is an L1 hit on B.
      expect(await b.get(key)).toBe(`value-${key}`)
      expect(await b.get(key)).toBe(`value-${key}`)
    }

    await expect(a.invalidateTags(tags)).resolves.toBeUndefined()

    for (const key of Object.keys(keys)) {
      expect(await a.get(key)).toBeUndefined()
      // B hears of every chunk on the bus and stops serving its L1 copy.
      await waitFor(async () => (await b.get(key)) === undefined, {
        timeout: 5_000,
        message: `instance B still serves ${key} after invalidateTags`,
      })
    }
    expect(a.health().l2).toMatchObject({ available: true, breaker: 'closed' })
  })

  it('20 calls of 8 000 tags never open the breaker', async () => {
    const a = instance()
    const tags = Array.from({ length: 8_000 }, (_, i) => `t-${i}`)
    for (let i = 0; i < 20; i++) await a.invalidateTags(tags)
    await a.set('after', 1)
    expect(await a.get('after')).toBe(1)
    expect(a.health().l2?.breaker).toBe('closed')
  })
})
