import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { describe, expect, it } from 'vitest'
import {
  createRateLimiter,
  type DecisionEvent,
  RateLimitArgumentError,
  RateLimitClosedError,
  RateLimitOptionsError,
  type RateLimiterOptions,
} from '../../src/index'

const base: RateLimiterOptions = { namespace: 'unit', limit: 10, period: '1h' }

describe('options', () => {
  it.each([
    [{ ...base, limt: 5 }, /limt is not an option/],
    [{ ...base, Burst: 5 }, /did you mean burst/],
    [{ namespace: 'x', period: '1m' }, /limit is required/],
    [{ namespace: 'x', limit: 5 }, /period is required/],
    [{ ...base, limit: 0 }, /limit must be a whole number/],
    [{ ...base, limit: 2.5 }, /limit must be a whole number/],
    [{ ...base, period: '1 minute' }, /period must be a duration/],
    [{ ...base, namespace: '' }, /namespace must be/],
    [{ ...base, namespace: 'a b' }, /namespace must be/],
    [{ ...base, algorithm: 'leaky' }, /algorithm must be one of/],
    [{ ...base, algorithm: 'fixed-window', burst: 3 }, /burst applies to 'gcra' and 'token-bucket'/],
    [{ ...base, onRedisError: 'ignore' }, /onRedisError must be one of/],
    [{ ...base, expectedInstances: 0 }, /expectedInstances must be/],
    [{ ...base, timeout: -1 }, /timeout must be a duration/],
    [{ ...base, redis: '' }, /empty string/],
    [{ ...base, redis: 'http://localhost' }, /redis must be a redis:\/\//],
    [{ ...base, redis: { host: 'localhost' } }, /redis must be/],
    [{ ...base, breaker: { resetTimeot: 5 } }, /breaker.resetTimeot is not an option/],
    [{ ...base, logger: {} }, /logger must have a warn/],
  ])('refuses %j', (options, message) => {
    expect(() => createRateLimiter(options as RateLimiterOptions)).toThrow(RateLimitOptionsError)
    expect(() => createRateLimiter(options as RateLimiterOptions)).toThrow(message)
  })
})

describe('a limiter in memory (no redis)', () => {
  it('allows burst at once, then refuses with when to retry', async () => {
    await using limiter = createRateLimiter({ ...base, limit: 60, period: '1m', burst: 3 })
    const decisions = await Promise.all(Array.from({ length: 5 }, () => limiter.take('k')))
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false, false])
    expect(decisions[2]).toMatchObject({ remaining: 0, retryAfter: 0, source: 'store' })
    expect(decisions[3]).toMatchObject({ allowed: false, remaining: 0, source: 'store' })
    expect(decisions[3]?.retryAfter).toBeGreaterThan(0)
    expect(decisions[3]?.retryAfter).toBeLessThanOrEqual(1000)
    expect((await limiter.take('other')).allowed).toBe(true)
    expect(limiter.health()).toEqual({
      status: 'ok',
      store: 'memory',
      breaker: 'closed',
      onRedisError: 'local',
    })
  })

  it('spends cost units, and a cost of 0 only looks', async () => {
    await using limiter = createRateLimiter({ ...base, burst: 5 })
    expect(await limiter.take('k', { cost: 4 })).toMatchObject({ allowed: true, remaining: 1 })
    expect(await limiter.take('k', { cost: 0 })).toMatchObject({ allowed: true, remaining: 1 })
    expect(await limiter.take('k', { cost: 2 })).toMatchObject({ allowed: false, remaining: 1 })
    expect(await limiter.take('k', { cost: 1 })).toMatchObject({ allowed: true, remaining: 0 })
  })

  it.each([
    ['', undefined, /non-empty/],
    ['x'.repeat(513), undefined, /at most 512/],
    ['a\ud800', undefined, /well-formed/],
    [42, undefined, /got number/],
    ['k', { cost: 11 }, /cost must be a whole number from 0 to 10/],
    ['k', { cost: -1 }, /cost must be/],
    ['k', { cost: 1.5 }, /cost must be/],
    ['k', 'cheap', /takes \{ cost \}/],
  ])('refuses take(%j, %j) before deciding', async (key, options, message) => {
    await using limiter = createRateLimiter(base)
    const take = limiter.take(key as string, options as { cost: number })
    await expect(take).rejects.toThrow(RateLimitArgumentError)
    await expect(take).rejects.toThrow(message)
  })

  it('publishes allowed and limited with the limiter name, never the key', async () => {
    const events: [string, DecisionEvent][] = []
    const onAllowed = (e: unknown): void => void events.push(['allowed', e as DecisionEvent])
    const onLimited = (e: unknown): void => void events.push(['limited', e as DecisionEvent])
    subscribe('scalekit:ratelimit:allowed', onAllowed)
    subscribe('scalekit:ratelimit:limited', onLimited)
    try {
      await using limiter = createRateLimiter({ ...base, name: 'login', burst: 1 })
      await limiter.take('user:secret-id')
      await limiter.take('user:secret-id')
    } finally {
      unsubscribe('scalekit:ratelimit:allowed', onAllowed)
      unsubscribe('scalekit:ratelimit:limited', onLimited)
    }
    expect(events).toEqual([
      ['allowed', { limiter: 'login', algorithm: 'gcra', source: 'store', cost: 1 }],
      ['limited', { limiter: 'login', algorithm: 'gcra', source: 'store', cost: 1 }],
    ])
    expect(JSON.stringify(events)).not.toContain('secret-id')
  })

  it('refuses decisions once closed; close() twice is one close', async () => {
    const limiter = createRateLimiter(base)
    const first = limiter.close()
    expect(limiter.close()).toBe(first)
    await first
    await expect(limiter.take('k')).rejects.toThrow(RateLimitClosedError)
    expect(limiter.health().status).toBe('closed')
  })

  it('keeps at most maxKeys keys (the least recently updated go first)', async () => {
    await using limiter = createRateLimiter({ ...base, burst: 1, maxKeys: 2 })
    await limiter.take('a')
    await limiter.take('b')
    await limiter.take('c')
    expect((await limiter.take('c')).allowed).toBe(false)
    expect((await limiter.take('a')).allowed).toBe(true)
  })

  it('keeps the order of last update when the newest key is decided again', async () => {
    await using limiter = createRateLimiter({ ...base, burst: 2, maxKeys: 2 })
    await limiter.take('a')
    await limiter.take('b')
    await limiter.take('b') // the newest key again: b stays the newest, its state updated
    await limiter.take('a') // a becomes the newest; b is now the least recently updated
    await limiter.take('c') // over maxKeys: b goes, with its state
    expect((await limiter.take('a')).allowed).toBe(false)
    expect((await limiter.take('b')).allowed).toBe(true)
    expect((await limiter.take('b')).allowed).toBe(true)
    expect((await limiter.take('b')).allowed).toBe(false)
  })
})
