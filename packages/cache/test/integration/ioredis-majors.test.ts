import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster as Cluster5, Redis as Redis5 } from 'ioredis'
import { Cluster as Cluster6, Redis as Redis6 } from 'ioredis6'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type RedisServer,
  requireServices,
  serviceUrls,
  startRedisServer,
  uniqueName,
  waitFor,
} from '@scalekit/test-utils'
import { type Cache, createCache } from '../../src/index'
import { createWriteBehind } from '../../src/write-behind/index'

// The app's own client, from either major of ioredis (5.9 as `ioredis`, 6.1 as `ioredis6`), on a
// standalone Redis and on the Redis Cluster (7001–7006): the same cache behaviour from each. The
// assignments `redis: client` are the type-level half of the test: both majors' `Redis` and
// `Cluster` (ioredis 6's `Redis<"legacy">`) must compile as the cache's `redis` option.
const clusterNodes = [...serviceUrls.redisClusterNodes]
const quiet = <T extends { on(event: 'error', listener: () => void): unknown }>(client: T): T => {
  client.on('error', () => undefined)
  return client
}
const makers = {
  'ioredis 5, standalone': () => quiet(new Redis5(serviceUrls.redis)),
  'ioredis 6, standalone': () => quiet(new Redis6(serviceUrls.redis)),
  'ioredis 5, cluster': () => quiet(new Cluster5(clusterNodes)),
  'ioredis 6, cluster': () => quiet(new Cluster6(clusterNodes)),
}

for (const [label, make] of Object.entries(makers)) {
  describe(`the app's ${label} client`, () => {
    const namespace = uniqueName('majors')
    const clients = [make(), make()]
    let a: Cache
    let b: Cache

    beforeAll(async () => {
      if (label.endsWith('cluster')) await requireServices('redisCluster')
      a = createCache({ namespace, redis: clients[0], timeout: 1_000, ttl: '1m' })
      b = createCache({ namespace, redis: clients[1], timeout: 1_000, ttl: '1m' })
      await waitFor(() => a.health().l2?.busConnected === true && b.health().l2?.busConnected === true, {
        timeout: 10_000,
        message: 'both caches subscribed to the bus',
      })
    })

    afterAll(async () => {
      await a.clear()
      await Promise.all([a.close(), b.close()])
      // The cache never closes a client it did not create.
      for (const client of clients) expect(client.status).toBe('ready')
      for (const client of clients) client.disconnect()
    })

    it('getOrSet across two instances runs the factory once, and both read the value with its shape', async () => {
      let calls = 0
      const value = { at: new Date(1_700_000_000_000), id: 2n ** 70n, roles: new Set(['admin']) }
      const factory = async (): Promise<typeof value> => {
        calls++
        await sleep(30)
        return value
      }
      const all = await Promise.all([
        ...Array.from({ length: 20 }, () => a.getOrSet('shared', factory)),
        ...Array.from({ length: 20 }, () => b.getOrSet('shared', factory)),
      ])
      expect(calls).toBe(1)
      for (const got of all) expect(got).toStrictEqual(value)
      expect(await b.get('shared')).toStrictEqual(value)
    })

    it("a tag invalidation on one instance reaches the other's L1 over the bus", async () => {
      await a.set('tagged', 'v1', { tags: ['t:majors'] })
      expect(await b.get('tagged')).toBe('v1') // now in b's L1
      await a.invalidateTags(['t:majors'])
      await waitFor(async () => (await b.get('tagged')) === undefined, {
        timeout: 5_000,
        message: 'the invalidation reached the other instance',
      })
      await a.set('plain', 1)
      expect(await b.get('plain')).toBe(1)
      await a.delete('plain')
      await waitFor(async () => (await b.get('plain')) === undefined, { timeout: 5_000 })
    })

    it('write-behind flushes through a second connection of the same client', async () => {
      const store = new Map<string, unknown>()
      const queue = createWriteBehind<{ n: number }>(a, {
        name: 'majors',
        flushInterval: 20,
        write: async (batch) => {
          await sleep(1)
          for (const entry of batch) {
            if (entry.deleted) store.delete(entry.key)
            else store.set(entry.key, entry.value)
          }
        },
      })
      for (let i = 0; i < 30; i++) await queue.set(`order:${i % 5}`, { n: i })
      expect(await b.get('order:4')).toStrictEqual({ n: 29 })
      await queue.flush()
      expect(store.size).toBe(5)
      expect(store.get('order:4')).toStrictEqual({ n: 29 })
      await queue.close()
    })

    it('clear() removes the namespace on every node', async () => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => a.set(`many:${i}`, i)))
      await a.clear()
      const left = await Promise.all(Array.from({ length: 20 }, (_, i) => b.get(`many:${i}`)))
      expect(left.every((v) => v === undefined)).toBe(true)
    })
  })
}

// ioredis 6's defaults keep a command to a dead Redis for ~73 s (20 retries, backoff up to 5 s;
// ioredis 5: ~10 s). The cache bounds every call itself: with the app's client left at its
// defaults, a call during an outage settles within the cache's timeout (a hang fails the test at
// vitest's 60 s), and the cache uses Redis again once the client has reconnected by itself.
const standalone = {
  'ioredis 5': (url: string) => quiet(new Redis5(url)),
  'ioredis 6': (url: string) => quiet(new Redis6(url)),
}
for (const [label, connect] of Object.entries(standalone)) {
  describe(`an outage under the app's ${label} client with its default options`, () => {
    let server: RedisServer
    let client: ReturnType<typeof connect>
    let cache: Cache

    beforeAll(async () => {
      server = await startRedisServer()
      client = connect(server.url)
      cache = createCache({ namespace: uniqueName('majors_outage'), redis: client, l1: false, timeout: 300 })
    })

    afterAll(async () => {
      await cache.close({ timeout: '1s' })
      client.disconnect()
      await server.close()
    })

    it('answers from the factory while Redis is down, and uses Redis again once it is back', async () => {
      await cache.set('kept', 'v1')
      expect(await cache.get('kept')).toBe('v1')
      await server.stop()
      expect(await cache.getOrSet('during', () => 'from the factory')).toBe('from the factory')
      await expect(cache.set('refused', 1)).rejects.toMatchObject({ code: 'ERR_CACHE_L2_UNAVAILABLE' })
      await server.restart()
      await waitFor(
        async () => {
          try {
            await cache.set('after', 'v2')
            return (await cache.get('after')) === 'v2'
          } catch {
            return false
          }
        },
        { timeout: 30_000, interval: 200, message: 'the cache writes to Redis again' },
      )
    })
  })
}
