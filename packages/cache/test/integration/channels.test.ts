import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import { type CacheGetContext, type CacheLockEvent, createCache } from '../../src/index'

const namespace = uniqueName('chan')
const cache = createCache({
  namespace,
  redis: serviceUrls.redis,
  ttl: 40,
  grace: 60_000,
  jitter: 0,
  earlyRefreshBeta: 0,
})
afterAll(async () => {
  await cache.clear()
  await cache.close()
})

describe('diagnostics channels', () => {
  it('report tier and outcome of every read, lock events and bus state, without keys', async () => {
    const reads: CacheGetContext[] = []
    const locks: CacheLockEvent[] = []
    const bus: unknown[] = []
    const onEnd = (ctx: unknown): void => {
      if ((ctx as CacheGetContext).namespace === namespace) reads.push({ ...(ctx as CacheGetContext) })
    }
    const onLock = (event: unknown): void => {
      if ((event as CacheLockEvent).namespace === namespace) locks.push(event as CacheLockEvent)
    }
    const onBus = (event: unknown): void => {
      bus.push(event)
    }
    const get = tracingChannel('scalekit:cache:get')
    get.subscribe({
      start: () => undefined,
      end: () => undefined,
      asyncStart: () => undefined,
      asyncEnd: onEnd,
      error: () => undefined,
    })
    subscribe('scalekit:cache:lock', onLock)
    subscribe('scalekit:cache:bus', onBus)
    try {
      await waitFor(() => cache.health().l2?.busConnected === true)
      await Promise.all([
        cache.getOrSet('k', async () => {
          await sleep(20)
          return 1
        }),
        cache.getOrSet('k', () => 2),
      ])
      await cache.getOrSet('k', () => 3)
      await sleep(60)
      await cache.getOrSet('k', () => {
        throw new Error('down')
      })
      await cache.get('missing')
      await waitFor(() => reads.length >= 5)
      expect(reads.map((r) => `${r.operation}:${r.tier}:${r.outcome}`)).toEqual([
        'getOrSet:factory:miss',
        'getOrSet:factory:coalesced',
        'getOrSet:l1:hit',
        'getOrSet:l2:stale',
        'get:l2:miss',
      ])
      expect(locks.map((l) => l.event)).toContain('acquired')
      expect(locks.map((l) => l.event)).toContain('released')
      expect(JSON.stringify([reads, locks, bus])).not.toContain('missing')
    } finally {
      get.unsubscribe({
        start: () => undefined,
        end: () => undefined,
        asyncStart: () => undefined,
        asyncEnd: onEnd,
        error: () => undefined,
      })
      unsubscribe('scalekit:cache:lock', onLock)
      unsubscribe('scalekit:cache:bus', onBus)
    }
  })
})
