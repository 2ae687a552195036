import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { waitFor } from '@scalekit/test-utils'
import {
  CacheArgumentError,
  CacheClosedError,
  CacheFactoryTimeoutError,
  CacheOptionsError,
  CacheValueTooLargeError,
  createCache,
} from '../../src/index'

describe('getOrSet in memory', () => {
  it('runs the factory once for 1000 concurrent callers of one cold key', async () => {
    const cache = createCache({ namespace: 'unit-sf' })
    let calls = 0
    const factory = async (): Promise<{ n: number }> => {
      calls++
      await sleep(20)
      return { n: 42 }
    }
    const results = await Promise.all(Array.from({ length: 1000 }, () => cache.getOrSet('hot', factory)))
    expect(calls).toBe(1)
    expect(results.every((r) => r.n === 42)).toBe(true)
    await cache.close()
  })

  it('answers from L1 after the first call and recomputes after the TTL', async () => {
    const cache = createCache({ namespace: 'unit-ttl', ttl: 50, jitter: 0, earlyRefreshBeta: 0 })
    let calls = 0
    const factory = (): number => ++calls
    expect(await cache.getOrSet('k', factory)).toBe(1)
    expect(await cache.getOrSet('k', factory)).toBe(1)
    await sleep(70)
    expect(await cache.getOrSet('k', factory)).toBe(2)
    await cache.close()
  })

  it('serves the last value within grace while the factory fails, and rethrows once grace is over', async () => {
    const cache = createCache({
      namespace: 'unit-grace',
      ttl: 30,
      grace: 200,
      jitter: 0,
      earlyRefreshBeta: 0,
    })
    await cache.getOrSet('k', () => 'v1')
    await sleep(50)
    const boom = new Error('db down')
    expect(
      await cache.getOrSet('k', () => {
        throw boom
      }),
    ).toBe('v1')
    await sleep(220)
    await expect(
      cache.getOrSet('k', () => {
        throw boom
      }),
    ).rejects.toBe(boom)
    await cache.close()
  })

  it('soft timeout answers stale and lets the refresh land in the background', async () => {
    const cache = createCache({
      namespace: 'unit-soft',
      ttl: 30,
      grace: 10_000,
      jitter: 0,
      earlyRefreshBeta: 0,
    })
    await cache.getOrSet('k', () => 'old')
    await sleep(40)
    let finished = false
    const value = await cache.getOrSet(
      'k',
      async () => {
        await sleep(150)
        finished = true
        return 'new'
      },
      { softTimeout: 20, ttl: 60_000 },
    )
    expect(value).toBe('old')
    expect(finished).toBe(false)
    await waitFor(async () => (await cache.get('k')) === 'new', { timeout: 2_000 })
    expect(finished).toBe(true)
    await cache.close()
  })

  it('hard timeout rejects with a coded error and aborts the factory signal', async () => {
    const cache = createCache({ namespace: 'unit-hard' })
    let aborted = false
    const error = await cache
      .getOrSet(
        'k',
        async ({ signal }) => {
          signal.addEventListener('abort', () => {
            aborted = true
          })
          await sleep(200)
          return 1
        },
        { hardTimeout: 30 },
      )
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CacheFactoryTimeoutError)
    expect((error as CacheFactoryTimeoutError).code).toBe('ERR_CACHE_FACTORY_TIMEOUT')
    expect(aborted).toBe(true)
    await cache.close()
  })

  it('caches null and undefined with the negative TTL', async () => {
    const cache = createCache({ namespace: 'unit-neg', ttl: 60_000, negativeTtl: 40, jitter: 0 })
    let calls = 0
    const factory = (): null => {
      calls++
      return null
    }
    expect(await cache.getOrSet('k', factory)).toBeNull()
    expect(await cache.getOrSet('k', factory)).toBeNull()
    expect(calls).toBe(1)
    await sleep(60)
    await cache.getOrSet('k', factory)
    expect(calls).toBe(2)
    expect(await cache.getOrSet<string | undefined>('u', () => undefined)).toBeUndefined()
    await cache.close()
  })

  it('refreshes a hot key early (XFetch) before it expires', async () => {
    const cache = createCache({ namespace: 'unit-xfetch', ttl: 200, jitter: 0, earlyRefreshBeta: 5 })
    let calls = 0
    const factory = async (): Promise<number> => {
      calls++
      await sleep(30)
      return calls
    }
    await cache.getOrSet('k', factory)
    const until = Date.now() + 180
    while (Date.now() < until) {
      await cache.getOrSet('k', factory)
      await sleep(5)
    }
    // With delta 30 ms and beta 5 the refresh starts well before the 200 ms TTL ends.
    expect(calls).toBeGreaterThan(1)
    await cache.close()
  })

  it('returns values through the codec so L1 answers like L2 would', async () => {
    const cache = createCache({ namespace: 'unit-codec' })
    const value = {
      at: new Date(0),
      big: 10n ** 20n,
      map: new Map([[1, 'a']]),
      set: new Set(['x']),
      none: undefined,
      nil: null,
    }
    await cache.set('k', value)
    expect(await cache.get('k')).toStrictEqual(value)
    await cache.close()
  })

  it('refuses oversized values and bad options with coded errors', async () => {
    const cache = createCache({ namespace: 'unit-size', maxValueBytes: 100 })
    await expect(cache.set('k', 'x'.repeat(200))).rejects.toBeInstanceOf(CacheValueTooLargeError)
    expect(() => createCache({ namespace: 'bad ns' })).toThrow(CacheOptionsError)
    expect(() => createCache({ namespace: 'a:b' })).toThrow(CacheOptionsError)
    expect(() => createCache({ namespace: 'n', ttl: '5 minutes' as '5m' })).toThrow(/ttl/)
    expect(() => createCache({ namespace: 'n', l1: { maxEntries: 0 } })).toThrow(CacheOptionsError)
    expect(() => createCache({ namespace: 'n', breaker: { resetTimeout: '1y' as '1d' } })).toThrow(
      /breaker.resetTimeout/,
    )
    expect(() => createCache({ namespace: 'n', jitter: 2 })).toThrow(CacheOptionsError)
    expect(() => createCache({ namespace: 'n', ttl: '1d', timeout: '2s', lockLease: '10s' })).not.toThrow()
    await cache.close()
  })

  it('rejects a bad call argument with CacheArgumentError, before doing anything', async () => {
    const cache = createCache({ namespace: 'unit-args', tagRetention: '1h' })
    let calls = 0
    const factory = (): number => ++calls
    await expect(cache.get('')).rejects.toBeInstanceOf(CacheArgumentError)
    await expect(cache.set('k'.repeat(1025), 1)).rejects.toBeInstanceOf(CacheArgumentError)
    await expect(cache.getOrSet('k', 'nope' as unknown as () => number)).rejects.toBeInstanceOf(
      CacheArgumentError,
    )
    await expect(cache.getOrSet('k', factory, { ttl: -1 })).rejects.toMatchObject({
      code: 'ERR_CACHE_INVALID_ARGUMENT',
    })
    await expect(cache.getOrSet('k', factory, { hardTimeout: '5 s' as '5s' })).rejects.toThrow(/hardTimeout/)
    await expect(cache.set('k', 1, { tags: [''] })).rejects.toBeInstanceOf(CacheArgumentError)
    await expect(cache.set('k', 1, { ttl: '2h', tags: ['t'] })).rejects.toThrow(/tagRetention/)
    await expect(cache.invalidateTags('t' as unknown as string[])).rejects.toBeInstanceOf(CacheArgumentError)
    await expect(cache.close({ timeout: 'soon' as '1s' })).rejects.toBeInstanceOf(CacheArgumentError)
    expect(calls).toBe(0)
    expect(
      await cache.getOrSet('k', factory, { ttl: '1m', grace: '1s', softTimeout: '1s', hardTimeout: '2s' }),
    ).toBe(1)
    await cache.close()
  })
})

describe('close and health', () => {
  it('reports ok, then closed; close is idempotent and refuses later calls with CacheClosedError', async () => {
    const cache = createCache({ namespace: 'unit-close', l1: { maxEntries: 10 } })
    await cache.set('a', 1)
    expect(cache.health()).toMatchObject({ status: 'ok', l1: { entries: 1 }, l2: undefined })
    const first = cache.close()
    expect(cache.close({ timeout: '1s' })).toBe(first)
    await first
    expect(cache.health().status).toBe('closed')
    await expect(cache.get('a')).rejects.toMatchObject({ code: 'ERR_CACHE_CLOSED' })
    await expect(cache.getOrSet('a', () => 2)).rejects.toBeInstanceOf(CacheClosedError)
    await expect(cache.clear()).rejects.toBeInstanceOf(CacheClosedError)
  })

  it('lets a load in flight finish within the timeout', async () => {
    const cache = createCache({ namespace: 'unit-close-load' })
    const load = cache.getOrSet('slow', async () => {
      await sleep(30)
      return 'done'
    })
    await cache.close({ timeout: '5s' })
    expect(await load).toBe('done')
  })

  it('rejects a load still running at the timeout with CacheClosedError, without waiting for it', async () => {
    const cache = createCache({ namespace: 'unit-close-stuck' })
    let release: () => void = () => undefined
    const load = cache.getOrSet(
      'stuck',
      () =>
        new Promise<string>((resolve) => {
          release = () => {
            resolve('late')
          }
        }),
    )
    const outcome = load.catch((error: unknown) => error)
    await cache.close({ timeout: 20 })
    expect(await outcome).toBeInstanceOf(CacheClosedError)
    release()
  })

  it('closes at the end of an `await using` scope', async () => {
    let seen: ReturnType<typeof createCache> | undefined
    {
      await using cache = createCache({ namespace: 'unit-dispose' })
      seen = cache
      await cache.set('a', 1)
    }
    expect(seen.health().status).toBe('closed')
  })
})

describe('tags, delete and write-through in memory', () => {
  it('invalidateTags drops every entry carrying the tag', async () => {
    const cache = createCache({ namespace: 'unit-tags' })
    await cache.set('a', 1, { tags: ['user:1'] })
    await cache.set('b', 2, { tags: ['user:1', 'team:1'] })
    await cache.set('c', 3, { tags: ['team:2'] })
    await sleep(2)
    await cache.invalidateTags(['user:1'])
    expect(await cache.get('a')).toBeUndefined()
    expect(await cache.get('b')).toBeUndefined()
    expect(await cache.get('c')).toBe(3)
    await sleep(2)
    await cache.set('a', 4, { tags: ['user:1'] })
    expect(await cache.get('a')).toBe(4)
    await cache.close()
  })

  it('writeThrough caches only what the store accepted', async () => {
    const cache = createCache({ namespace: 'unit-wt' })
    const store = new Map<string, number>()
    await cache.writeThrough('k', 1, (v) => {
      store.set('k', v)
    })
    expect(await cache.get('k')).toBe(1)
    const rejected = new Error('constraint violation')
    await expect(
      cache.writeThrough('k', 2, () => {
        throw rejected
      }),
    ).rejects.toBe(rejected)
    expect(await cache.get('k')).toBe(1)
    expect(store.get('k')).toBe(1)
    await cache.close()
  })
})

describe('L1 memory bound', () => {
  it('a flood of random keys stays within maxBytes and maxEntries', async () => {
    const maxBytes = 4 * 1024 * 1024
    const cache = createCache({ namespace: 'unit-bound', l1: { maxEntries: 1_000_000, maxBytes } })
    const payload = 'x'.repeat(1024)
    for (let i = 0; i < 20_000; i++) await cache.set(`k${Math.random()}`, payload)
    const { entries, bytes } = cache.health().l1!
    expect(bytes).toBeLessThanOrEqual(maxBytes)
    // 20 000 values of 1 KB would be ~20 MB: the byte bound evicted most of them.
    expect(entries).toBeLessThan(maxBytes / 1024)
    expect(entries).toBeGreaterThan(maxBytes / 2048)
    await cache.close()

    const small = createCache({ namespace: 'unit-bound2', l1: { maxEntries: 100, maxBytes } })
    for (let i = 0; i < 1000; i++) await small.set(`k${i}`, i)
    expect(small.health().l1!.entries).toBe(100)
    expect(await small.get('k999')).toBe(999)
    expect(await small.get('k0')).toBeUndefined()
    await small.close()
  })
})
