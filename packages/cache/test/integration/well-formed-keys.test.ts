import { afterAll, describe, expect, it } from 'vitest'
import { freePort, serviceUrls, uniqueName } from '@scalekit/test-utils'
import { createWriteBehind } from '../../src/write-behind/index'
import { sharedRedis } from './support'
import { createCache } from '../../src/index'

const namespace = uniqueName('keys')
const { redis, cleanup } = sharedRedis(namespace)
afterAll(cleanup)

const lone = ['x\ud800', 'x\udbff', 'x\udc00', '\ud800x', 'a\udfffb']

describe('keys that are not well-formed UTF-16 (issue 12, defect 9)', () => {
  it("are refused with ERR_CACHE_INVALID_ARGUMENT instead of reading another key's entry", async () => {
    const cache = createCache({ namespace, redis: serviceUrls.redis, l1: false })
    await cache.set('x\ufffd', 'the value of x\\ufffd')
    for (const key of lone) {
      await expect(cache.get(key)).rejects.toMatchObject({ code: 'ERR_CACHE_INVALID_ARGUMENT' })
      await expect(cache.set(key, 1)).rejects.toMatchObject({ code: 'ERR_CACHE_INVALID_ARGUMENT' })
      await expect(cache.getOrSet(key, () => 1)).rejects.toMatchObject({
        code: 'ERR_CACHE_INVALID_ARGUMENT',
      })
      await expect(cache.delete(key)).rejects.toMatchObject({ code: 'ERR_CACHE_INVALID_ARGUMENT' })
      await expect(cache.set('ok', 1, { tags: [key] })).rejects.toMatchObject({
        code: 'ERR_CACHE_INVALID_ARGUMENT',
      })
      await expect(cache.invalidateTags([key])).rejects.toMatchObject({ code: 'ERR_CACHE_INVALID_ARGUMENT' })
    }
    // Well-formed pairs and U+FFFD itself are keys like any other.
    expect(await cache.get('x\ufffd')).toBe('the value of x\\ufffd')
    await cache.set('emoji \ud83d\ude00', 'pair')
    expect(await cache.get('emoji \ud83d\ude00')).toBe('pair')
    expect(await redis.exists(`sk:{${namespace}:x\ufffd}`)).toBe(1)
    await cache.close()
  })

  it('are refused by write-behind queues too', async () => {
    const cache = createCache({ namespace, redis: serviceUrls.redis })
    const queue = createWriteBehind(cache, { name: 'keys', write: () => Promise.resolve() })
    await expect(queue.set('x\ud800', 1)).rejects.toMatchObject({ code: 'ERR_CACHE_INVALID_ARGUMENT' })
    await expect(queue.delete('x\udbff')).rejects.toMatchObject({ code: 'ERR_CACHE_INVALID_ARGUMENT' })
    await cache.close()
  })

  it('are refused before any Redis call: a cache whose Redis is unreachable answers at once, breaker closed', async () => {
    const port = await freePort()
    const cache = createCache({ namespace, redis: `redis://127.0.0.1:${port}`, timeout: 60_000 })
    for (let i = 0; i < 20; i++)
      await expect(cache.get(`x\ud800${i}`)).rejects.toMatchObject({ code: 'ERR_CACHE_INVALID_ARGUMENT' })
    expect(cache.health().l2?.breaker).toBe('closed')
    await cache.close({ timeout: 100 })
  })

  it('are bounded in length (1024 UTF-16 code units)', async () => {
    const cache = createCache({ namespace })
    await cache.set('k'.repeat(1024), 1)
    await expect(cache.set('k'.repeat(1025), 1)).rejects.toMatchObject({ code: 'ERR_CACHE_INVALID_ARGUMENT' })
    await cache.close()
  })
})
