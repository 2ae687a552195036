import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer, waitFor } from '@scalekit/test-utils'
import { createRateLimiter, type Decision, type RateLimitErrorEvent, type RateLimiter } from '../../src/index'

/**
 * Redis really stopped under each policy, on a private server, with the app's ioredis client left at
 * its defaults (a command to a dead Redis waits out 20 reconnects there): every decision is made
 * by the policy, within the limiter's timeout, with one warning per episode; once Redis is back,
 * Redis decides again — and the requests the local fallback allowed meanwhile are carried over, so
 * a Redis that restarted empty does not hand out a fresh burst.
 */
let server: RedisServer
let redis: Redis

beforeAll(async () => {
  server = await startRedisServer()
  redis = new Redis(server.url)
  // The app's client prints its connection errors unless it has a listener; the limiter adds none.
  redis.on('error', () => undefined)
  await redis.ping()
})

afterAll(async () => {
  redis.disconnect()
  await server.close()
})

interface Warning {
  readonly fields: Record<string, unknown>
  readonly msg: string | undefined
}

function limiterWith(policy: 'open' | 'closed' | 'local', warnings: Warning[], client: Redis): RateLimiter {
  return createRateLimiter({
    redis: client,
    namespace: `outage-${policy}`,
    // One unit per 10 s: nothing refills during the test, so every allowed request shows.
    limit: 10,
    period: '100s',
    burst: 4,
    timeout: '100ms',
    onRedisError: policy,
    expectedInstances: 2,
    breaker: { resetTimeout: '200ms', volumeThreshold: 3 },
    logger: { warn: (fields, msg) => void warnings.push({ fields: fields as Record<string, unknown>, msg }) },
  })
}

async function takeMany(limiter: RateLimiter, n: number): Promise<Decision[]> {
  const decisions: Decision[] = []
  for (let i = 0; i < n; i++) decisions.push(await limiter.take('k'))
  return decisions
}

describe('Redis stopped mid-load, then back', () => {
  it('each policy decides within the timeout while Redis is away; Redis decides again once it is back', async () => {
    const warnings: Record<string, Warning[]> = { open: [], closed: [], local: [] }
    const errors: RateLimitErrorEvent[] = []
    const onError = (e: unknown): void => void errors.push(e as RateLimitErrorEvent)
    subscribe('scalekit:ratelimit:error', onError)
    // The local policy's client fails commands at once while disconnected: with an offline queue, a
    // decision that timed out still runs when Redis is back and spends the key again (stricter, never
    // looser), which would hide what the carry-over does.
    const noQueue = new Redis(server.url, { enableOfflineQueue: false })
    noQueue.on('error', () => undefined)
    await waitFor(() => noQueue.status === 'ready', { message: 'the no-queue client connected' })
    const open = limiterWith('open', warnings.open as Warning[], redis)
    const closed = limiterWith('closed', warnings.closed as Warning[], redis)
    const local = limiterWith('local', warnings.local as Warning[], noQueue)
    try {
      // Before: two of the four units of each key are spent on Redis.
      for (const limiter of [open, closed, local]) {
        expect((await takeMany(limiter, 2)).map((d) => [d.allowed, d.source])).toEqual([
          [true, 'store'],
          [true, 'store'],
        ])
      }

      await server.stop()
      // A raw command on the same client hangs in ioredis' offline queue for seconds: every decision
      // below is answered before it settles, so none waited on the client.
      let rawSettled = false
      void redis.time().then(
        () => (rawSettled = true),
        () => (rawSettled = true),
      )

      const during = {
        open: await takeMany(open, 8),
        closed: await takeMany(closed, 8),
        local: await takeMany(local, 8),
      }
      expect(rawSettled).toBe(false)
      expect(during.open.every((d) => d.allowed && d.source === 'fail-open')).toBe(true)
      expect(during.closed.every((d) => !d.allowed && d.source === 'fail-closed' && d.retryAfter > 0)).toBe(
        true,
      )
      // The local fallback: burst 4 / 2 instances = 2 units here, then refusals.
      expect(during.local.map((d) => d.allowed)).toEqual([
        true,
        true,
        false,
        false,
        false,
        false,
        false,
        false,
      ])
      expect(during.local.every((d) => d.source === 'local')).toBe(true)

      // The breaker opened after a few timeouts: the rest cost no call to Redis.
      for (const limiter of [open, closed, local])
        expect(limiter.health()).toMatchObject({ status: 'degraded' })
      const reasons = new Set(errors.map((e) => e.reason))
      expect(reasons).toContain('breaker-open')
      expect(errors.every((e) => e.code === 'ERR_RATELIMIT_UNAVAILABLE')).toBe(true)
      // One warning per limiter for the whole episode, naming the policy, never the key.
      for (const policy of ['open', 'closed', 'local'] as const) {
        expect(warnings[policy]).toHaveLength(1)
        expect(warnings[policy]?.[0]?.fields).toMatchObject({ code: 'ERR_RATELIMIT_UNAVAILABLE', policy })
        expect(JSON.stringify(warnings[policy])).not.toMatch(/"k"|:k\b/)
      }

      // Back, empty (no persistence): Redis decides again once the app's client has reconnected.
      await server.restart()
      for (const limiter of [open, closed, local]) {
        await waitFor(async () => (await limiter.take('probe')).source === 'store', {
          timeout: 15_000,
          message: 'Redis decides again',
        })
        expect(limiter.health().status).toBe('ok')
      }
      // The local fallback allowed 2 units during the outage; they are carried to Redis, so the key
      // is not handed a fresh burst of 4: 2 more, as if Redis had seen all of them.
      const after = await takeMany(local, 6)
      expect(after.map((d) => d.allowed)).toEqual([true, true, false, false, false, false])
      expect(after.every((d) => d.source === 'store' || d.source === 'fast-path')).toBe(true)
    } finally {
      unsubscribe('scalekit:ratelimit:error', onError)
      await Promise.all([open.close(), closed.close(), local.close()])
      noQueue.disconnect()
    }
  })
})
