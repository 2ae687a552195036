import { afterAll, describe, expect, it } from 'vitest'
import { serviceUrls, uniqueName } from '@scalekit/test-utils'
import { sharedRedis } from './support'
import { type CacheErrorEvent, channels, createCache } from '../../src/index'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'

const namespace = uniqueName('bounded')
const { redis, cleanup } = sharedRedis(namespace)
afterAll(cleanup)

/** Writes `data` as a fresh entry straight into Redis, the way anyone with write access could. */
async function plant(key: string, data: string): Promise<void> {
  const [seconds, micros] = await redis.time()
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
  await redis.set(
    `sk:{${namespace}:${key}}`,
    `${now}|${now}|${now + 60_000}|${now + 60_000}|0|0|0|${data}`,
    'PX',
    60_000,
  )
}

describe('entries planted in Redis cannot stall a reader (issue 12, defect 10)', () => {
  it('a million-digit BigInt, a catastrophic RegExp and an oversized entry read as misses, each reported', async () => {
    const events: CacheErrorEvent[] = []
    const onError = (message: unknown): void => {
      events.push(message as CacheErrorEvent)
    }
    subscribe(channels.error.name, onError)
    const cache = createCache({ namespace, redis: serviceUrls.redis, l1: false })
    try {
      await plant('bigint', `{"n":{"$t":"BigInt","v":"${'7'.repeat(1_000_000)}"}}`)
      await plant('regexp', '{"check":{"$t":"RegExp","v":["^(a+)+$",""]}}')
      await plant('fine', '{"n":{"$t":"BigInt","v":"12345678901234567890"}}')
      // Longer than any value this cache writes (maxValueBytes, 1 MiB): not even parsed.
      await plant('huge', JSON.stringify('x'.repeat(2 * 1024 * 1024)))
      expect(await cache.get('bigint')).toBeUndefined()
      expect(await cache.get('regexp')).toBeUndefined()
      expect(await cache.get('huge')).toBeUndefined()
      expect(await cache.get('fine')).toStrictEqual({ n: 12345678901234567890n })
      expect(events.filter((e) => e.namespace === namespace && e.code === 'ERR_CACHE_DECODE')).toHaveLength(3)
      // The factory replaces what could not be read.
      expect(await cache.getOrSet('regexp', () => ({ check: 'replaced' }))).toStrictEqual({
        check: 'replaced',
      })
    } finally {
      unsubscribe(channels.error.name, onError)
      await cache.close()
    }
  })
})
