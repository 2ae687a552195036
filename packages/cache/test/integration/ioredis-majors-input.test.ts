import { Redis as Redis5 } from 'ioredis'
import { Redis as Redis6 } from 'ioredis6'
import { describe, expect, it } from 'vitest'
import { serviceUrls, uniqueName } from '@scalekit/test-utils'
import { CacheOptionsError, createCache } from '../../src/index'

// What the `redis` option refuses, at construction, with ERR_CACHE_INVALID_OPTIONS naming `redis`
// (issue 13, item 7): never a silent localhost:6379, never `client.on is not a function`.
const namespace = uniqueName('majors_input')

function refusal(redis: unknown): CacheOptionsError {
  let thrown: unknown
  try {
    // The cast stands for a JavaScript caller, or a value read from env typed as `string`.
    createCache({ namespace, redis: redis as string })
  } catch (error) {
    thrown = error
  }
  expect(thrown).toBeInstanceOf(CacheOptionsError)
  const error = thrown as CacheOptionsError
  expect(error.code).toBe('ERR_CACHE_INVALID_OPTIONS')
  expect(error.message).toMatch(/^redis /)
  return error
}

describe('the redis option', () => {
  it("refuses '' (an unset REDIS_URL) instead of connecting to localhost:6379", () => {
    expect(refusal('').message).toMatch(/empty string.*REDIS_URL/)
    expect(refusal('   ').message).toMatch(/empty string/)
  })

  it('refuses an options object, saying what to pass instead', () => {
    // @ts-expect-error -- not a client: the compiler refuses it too
    expect(() => createCache({ namespace, redis: { host: '127.0.0.1', port: 6379 } })).toThrow(
      CacheOptionsError,
    )
    const error = refusal({ host: '127.0.0.1', port: 6379 })
    expect(error.message).toContain('redis://host:port')
    expect(error.message).toContain('new Redis({ host, port })')
  })

  it('refuses a number, null, another scheme and a string with no scheme', () => {
    expect(refusal(42).message).toContain('got 42')
    expect(refusal(null).message).toContain('got null')
    expect(refusal('http://nope').message).toContain("scheme 'http:'")
    expect(refusal('localhost:6379').message).toContain('with no scheme')
    expect(refusal('redis://[nope').message).toContain('not a valid URL')
  })

  it('never echoes the URL, which may hold a password', () => {
    expect(refusal('https://user:s3cret@redis.internal:6379').message).not.toContain('s3cret')
  })

  it("refuses an ioredis 6 client whose replies are mapped 'resp3' (shapes the cache cannot read)", () => {
    const resp3 = new Redis6(serviceUrls.redis, { lazyConnect: true, protocol: 3, replyMapping: 'resp3' })
    try {
      // @ts-expect-error -- its ZMSCORE replies numbers: the structural type refuses it
      expect(() => createCache({ namespace, redis: resp3 })).toThrow(/replyMapping/)
      expect(refusal(resp3).message).toContain("'legacy'")
    } finally {
      resp3.disconnect()
    }
  })

  it('takes a redis:// or rediss:// URL and a client of either major', async () => {
    const five = new Redis5(serviceUrls.redis, { lazyConnect: true })
    const six = new Redis6(serviceUrls.redis, { lazyConnect: true })
    const caches = [
      createCache({ namespace, redis: serviceUrls.redis }),
      createCache({ namespace, redis: five }),
      createCache({ namespace, redis: six }),
      createCache({ namespace, redis: 'rediss://127.0.0.1:1', bus: false }),
    ]
    try {
      for (const [i, cache] of caches.slice(0, 3).entries()) {
        await cache.set(`k${i}`, i)
        expect(await caches[0]?.get(`k${i}`)).toBe(i)
        await cache.delete(`k${i}`)
      }
    } finally {
      await Promise.all(caches.map((c) => c.close({ timeout: '1s' })))
      five.disconnect()
      six.disconnect()
    }
  })
})
