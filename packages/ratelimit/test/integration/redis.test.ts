import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer, waitFor } from '@scalekit/test-utils'
import { createRateLimiter } from '../../src/index'

let server: RedisServer
let redis: Redis
let admin: Redis

beforeAll(async () => {
  server = await startRedisServer()
  redis = new Redis(server.url)
  admin = new Redis(server.url)
})

afterAll(async () => {
  redis.disconnect()
  admin.disconnect()
  await server.close()
})

/** Calls of EVALSHA and EVAL the server has run since the last CONFIG RESETSTAT. */
async function scriptCalls(): Promise<number> {
  const stats = await admin.info('commandstats')
  let calls = 0
  for (const match of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(match[1])
  return calls
}

describe('a limiter on Redis', () => {
  it('shares each key between instances: burst at once across both, then refusals', async () => {
    const options = { redis, namespace: 'shared', limit: 10, period: '1h', burst: 4 } as const
    await using a = createRateLimiter(options)
    await using b = createRateLimiter(options)
    const decisions = [
      await a.take('k'),
      await b.take('k'),
      await a.take('k'),
      await b.take('k'),
      await a.take('k'),
    ]
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, false])
    expect(decisions.map((d) => d.remaining)).toEqual([3, 2, 1, 0, 0])
    expect(decisions[4]?.retryAfter).toBeGreaterThan(350_000)
    expect(decisions[4]?.retryAfter).toBeLessThanOrEqual(360_000)
    expect(await admin.exists('rl:shared:gcra:k')).toBe(1)
  })

  it('answers a hammered empty key locally: at most 0.01 Redis commands per refusal', async () => {
    await using limiter = createRateLimiter({ redis, namespace: 'hammer', limit: 10, period: '1s', burst: 2 })
    await admin.config('RESETSTAT')
    let refused = 0
    let allowed = 0
    for (let i = 0; i < 3000; i++) {
      const d = await limiter.take('hot')
      if (d.allowed) allowed += 1
      else refused += 1
    }
    const calls = await scriptCalls()
    // Each allowed decision is one call; refusals are answered by the fast path, but for the one call
    // per emptied interval that learns the key is empty.
    expect(refused).toBeGreaterThan(2900)
    expect((calls - allowed) / refused).toBeLessThanOrEqual(0.01)
  })

  it('a fixed window that rolls over frees its whole limit at once: the fast path lets every request ask', async () => {
    const options = { redis, namespace: 'roll', algorithm: 'fixed-window', limit: 5, period: '2s' } as const
    await using limiter = createRateLimiter(options)
    await using observer = createRateLimiter({ ...options, localBlock: false })
    // Early in a window, so that the first 7 requests fall in one window.
    let probe = 0
    await waitFor(async () => (await observer.take(`phase-${probe++}`)).resetAfter > 1500, {
      message: 'the start of a window',
    })
    const first = await Promise.all(Array.from({ length: 7 }, () => limiter.take('k')))
    expect(first.filter((d) => d.allowed)).toHaveLength(5)
    const window = await waitFor(
      async () => {
        const d = await observer.take('k', { cost: 0 })
        return d.remaining === 5 ? d : undefined
      },
      { message: 'the next window' },
    )
    expect(window.remaining).toBe(5)
    const next = await Promise.all(Array.from({ length: 7 }, () => limiter.take('k')))
    expect(next.filter((d) => d.allowed)).toHaveLength(5)
  })

  it('runs its scripts again after Redis forgot them (SCRIPT FLUSH: NOSCRIPT then EVAL)', async () => {
    await using limiter = createRateLimiter({ redis, namespace: 'flush', limit: 5, period: '1h' })
    expect((await limiter.take('k')).source).toBe('store')
    await admin.script('FLUSH')
    expect(await limiter.take('k')).toMatchObject({ allowed: true, remaining: 3, source: 'store' })
  })

  it('makes and closes its own client from a URL, and never closes the app client', async () => {
    const limiter = createRateLimiter({ redis: server.url, namespace: 'url', limit: 5, period: '1h' })
    expect(await limiter.take('k')).toMatchObject({ allowed: true, source: 'store' })
    const clients = async (): Promise<number> =>
      String(await admin.call('CLIENT', 'LIST'))
        .trim()
        .split('\n').length
    const before = await clients()
    await limiter.close()
    expect(await clients()).toBe(before - 1)

    const borrowed = createRateLimiter({ redis, namespace: 'url', limit: 5, period: '1h' })
    await borrowed.take('k')
    await borrowed.close()
    expect(redis.status).toBe('ready')
  })

  it('checkHealth asks Redis; health stays synchronous', async () => {
    await using limiter = createRateLimiter({ redis, namespace: 'health', limit: 5, period: '1h' })
    expect(await limiter.checkHealth()).toEqual({
      status: 'ok',
      store: 'redis',
      breaker: 'closed',
      onRedisError: 'local',
    })
  })
})
