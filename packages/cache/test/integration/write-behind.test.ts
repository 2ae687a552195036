import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { serviceUrls, startRedisServer, uniqueName, waitFor } from '@scalekit/test-utils'
import type { RedisServer } from '@scalekit/test-utils'
import { writeBehindConformance } from '../../src/conformance/index'
import { recorder } from '../../src/conformance/write-behind'
import { type Cache, type CacheOptions, CacheUnavailableError, createCache, jsonCodec } from '../../src/index'
import { createWriteBehind } from '../../src/write-behind/index'
import type { WriteBehindEntry, WriteBehindOptions, WriteBehindQueue } from '../../src/write-behind/index'

// Every namespace of this file starts with `filePrefix` (its keys are cleaned up after).
const filePrefix = uniqueName('wb')
const redis = new Redis(serviceUrls.redis, { lazyConnect: true })
const clients: Redis[] = [redis]
const caches: Cache[] = []
const queues: WriteBehindQueue<unknown>[] = []
const shared = cache({ redis })

/** A cache of this file (the same namespace as another makes them two instances of one app). */
function cache(options: Partial<CacheOptions> = {}, namespace = `${filePrefix}_${caches.length}`): Cache {
  const created = createCache({ namespace, redis, timeout: 2_000, ...options })
  caches.push(created)
  return created
}

/** The key prefix of a queue: `sk:{<namespace>:wb:<name>}`. */
function prefixOf(on: Cache, name: string): string {
  return `sk:{${on.namespace}:wb:${name}}`
}

function open<T>(on: Cache, options: WriteBehindOptions<T>): WriteBehindQueue<T> {
  const queue = createWriteBehind(on, options)
  queues.push(queue)
  return queue
}

function client(url: string = serviceUrls.redis): Redis {
  const created = new Redis(url, { lazyConnect: true })
  created.on('error', () => undefined)
  clients.push(created)
  return created
}

beforeAll(async () => {
  await redis.connect()
})

afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.close({ timeout: 5_000 })))
})

afterAll(async () => {
  await Promise.all(caches.map((c) => c.close()))
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `sk:{${filePrefix}*`, 'COUNT', 1000)
    if (keys.length > 0) await redis.del(...keys)
    cursor = next
  } while (cursor !== '0')
  for (const c of clients) c.disconnect()
})

writeBehindConformance({ describe, it, afterEach, expect }, 'redis', (options) =>
  createWriteBehind(shared, options),
)

describe('write-behind on Redis', () => {
  it('queues in a stream under the prefix, leads through a lease, and leaves nothing behind once flushed and closed', async () => {
    const store = recorder<{ n: number }>()
    const queue = open(shared, { name: 'layout', write: store.write, flushInterval: 60_000 })
    const prefix = prefixOf(shared, 'layout')
    await waitFor(() => queue.isLeader(), { message: 'leadership' })
    await queue.set('a', { n: 1 })
    await queue.delete('b')
    const entries = await redis.xrange(`${prefix}:stream`, '-', '+')
    expect(entries.map(([, fields]) => fields)).toEqual([
      ['key', 'a', 'op', 'set', 'value', jsonCodec.encode({ n: 1 })],
      ['key', 'b', 'op', 'del'],
    ])
    expect(await redis.pttl(`${prefix}:leader`)).toBeGreaterThan(0)
    await queue.flush()
    expect(await redis.xlen(`${prefix}:stream`)).toBe(0)
    expect(await redis.xpending(`${prefix}:stream`, 'write-behind')).toEqual([0, null, null, null])
    await queue.close()
    expect(await redis.exists(`${prefix}:leader`)).toBe(0)
    // The user's client is left open.
    expect(redis.status).toBe('ready')
  })

  it('updates the cache at once: another instance reads the new value before the store has it', async () => {
    const namespace = `${filePrefix}_read`
    const writer = cache({ redis: client() }, namespace)
    const reader = cache({ redis: client() }, namespace)
    const store = new Map<string, unknown>()
    const queue = open<{ total: number }>(writer, {
      name: 'orders',
      flushInterval: 60_000,
      write: (batch) => {
        for (const entry of batch) store.set(entry.key, entry.value)
        return Promise.resolve()
      },
    })
    await queue.set('order:1', { total: 1 })
    expect(await reader.get('order:1')).toStrictEqual({ total: 1 })
    expect(store.size).toBe(0)
    await queue.flush()
    expect(store.get('order:1')).toStrictEqual({ total: 1 })
  })

  it('lets one instance flush at a time; the store ends with the last value per key', async () => {
    const namespace = `${filePrefix}_shared`
    const storeOfRecord = new Map<string, number>()
    let active = 0
    let maxActive = 0
    const writers = new Set<string>()
    const writeAs =
      (who: string) =>
      async (batch: readonly WriteBehindEntry<number>[]): Promise<void> => {
        active += 1
        maxActive = Math.max(maxActive, active)
        writers.add(who)
        await new Promise((resolve) => setTimeout(resolve, 5))
        for (const e of batch) {
          if (e.deleted) storeOfRecord.delete(e.key)
          else storeOfRecord.set(e.key, e.value)
        }
        active -= 1
      }
    const options = { name: 'shared', batchSize: 20, flushInterval: 20, lease: 1_000 }
    const a = open(cache({ redis: client() }, namespace), { ...options, write: writeAs('a') })
    const b = open(cache({ redis: client() }, namespace), { ...options, write: writeAs('b') })
    const expected = new Map<string, number>()
    for (let i = 0; i < 400; i += 1) {
      const key = `k${i % 25}`
      await (i % 2 === 0 ? a : b).set(key, i)
      expected.set(key, i)
    }
    await Promise.all([a.flush(), b.flush()])
    expect(maxActive).toBe(1)
    expect(storeOfRecord).toEqual(expected)
    expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1)
    expect(writers.size).toBe(1)
  })

  it('hands leadership over when the leader closes, and the new leader flushes', async () => {
    const namespace = `${filePrefix}_handover`
    const store = recorder<number>()
    const options = { name: 'handover', write: store.write, lease: 600 }
    const first = open(cache({ redis: client() }, namespace), options)
    await waitFor(() => first.isLeader(), { message: 'first leads' })
    const second = open(cache({ redis: client() }, namespace), options)
    await first.set('a', 1)
    await first.close()
    await waitFor(() => second.isLeader(), { timeout: 10_000, message: 'second takes over' })
    await second.set('a', 2)
    await second.flush()
    expect(store.batches.flat().map((e) => e.value)).toEqual([1, 2])
  })

  it('starts on a lazy client without an offline queue (as the cache creates) without a spurious error', async () => {
    const lazy = new Redis(serviceUrls.redis, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    })
    clients.push(lazy)
    const errors: Error[] = []
    const store = recorder<number>()
    const queue = open(cache({ redis: lazy }), {
      name: 'lazy',
      write: store.write,
      onError: (e) => errors.push(e),
    })
    await waitFor(() => queue.isLeader(), { message: 'leadership' })
    await queue.set('a', 1)
    await queue.flush()
    expect(store.batches.flat()).toEqual([{ key: 'a', value: 1, deleted: false }])
    expect(errors).toEqual([])
  })

  it('dead-letters a malformed stream entry and goes on', async () => {
    const store = recorder<number>()
    const errors: Error[] = []
    const queue = open(shared, { name: 'poison', write: store.write, onError: (e) => errors.push(e) })
    await redis.xadd(`${prefixOf(shared, 'poison')}:stream`, '*', 'garbage', 'yes')
    await queue.set('ok', 1)
    await queue.flush()
    expect(store.batches.flat()).toEqual([{ key: 'ok', value: 1, deleted: false }])
    const [letter] = await queue.deadLetters()
    expect(letter).toMatchObject({
      key: '',
      attempts: 0,
      reason: expect.stringMatching(/malformed/) as unknown,
    })
  })
})

describe('write-behind when Redis stops answering', () => {
  let server: RedisServer

  beforeAll(async () => {
    server = await startRedisServer()
  })

  afterAll(async () => {
    await server.close()
  })

  it('rejects set() with CacheUnavailableError within the cache timeout, reports loop errors, and recovers', async () => {
    const errors: Error[] = []
    const store = recorder<number>()
    const queue = open(cache({ redis: client(server.url), timeout: 300, breaker: { resetTimeout: 200 } }), {
      name: 'outage',
      write: store.write,
      lease: 600,
      backoff: { initial: 20, max: 200 },
      onError: (e) => errors.push(e),
    })
    await queue.set('a', 1)
    await queue.flush()
    await server.stop()
    const failure = await queue.set('b', 2).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(CacheUnavailableError)
    expect(failure).toMatchObject({ code: 'ERR_CACHE_L2_UNAVAILABLE' })
    await waitFor(() => errors.some((e) => e instanceof CacheUnavailableError), {
      timeout: 10_000,
      message: 'a reported loop error',
    })
    // No persistence: the restarted server is empty, as a replaced node would be.
    await server.restart()
    await waitFor(
      async () =>
        queue.set('c', 3).then(
          () => true,
          () => false,
        ),
      { timeout: 15_000, message: 'set() works again' },
    )
    await waitFor(() => store.batches.flat().some((e) => e.key === 'c'), {
      timeout: 15_000,
      message: 'c flushed after the restart',
    })
    expect(store.batches.flat()[0]).toEqual({ key: 'a', value: 1, deleted: false })
  })

  it('goes through the cache breaker: while it is open, set() fails at once and health() says degraded', async () => {
    const on = cache({
      redis: client(server.url),
      timeout: 200,
      breaker: { volumeThreshold: 1, resetTimeout: 60_000 },
    })
    const queue = open(on, { name: 'breaker', write: () => Promise.resolve() })
    await waitFor(() => queue.isLeader(), { message: 'leadership' })
    await server.stop()
    await waitFor(
      async () => (await queue.set('x', 1).catch((error: unknown) => error)) instanceof CacheUnavailableError,
      {
        message: 'set() failing',
      },
    )
    await waitFor(() => on.health().l2?.breaker === 'open', { message: 'the breaker open' })
    expect(on.health().status).toBe('degraded')
    const failure = await queue.set('y', 2).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(CacheUnavailableError)
    expect((failure as Error).message).toMatch(/[Bb]reaker/)
    await server.restart()
  })

  it('closes within its timeout while Redis is down, without hanging or unhandled rejections', async () => {
    const errors: Error[] = []
    const queue = open(cache({ redis: client(server.url), timeout: 200 }), {
      name: 'down',
      write: () => Promise.resolve(),
      onError: (e) => errors.push(e),
    })
    await waitFor(() => queue.isLeader(), { message: 'leadership' })
    await server.stop()
    await queue.close({ timeout: 1_000 })
    expect(queue.isLeader()).toBe(false)
    await server.restart()
  })
})

describe('write-behind and the cache sharing a namespace', () => {
  it('clear() removes cache entries, locks and tags but never a queue: queued writes and dead letters survive', async () => {
    const on = cache()
    const store = recorder<number>()
    const queue = open(on, { name: 'survives', write: store.write, flushInterval: 60_000 })
    const prefix = prefixOf(on, 'survives')
    await waitFor(() => queue.isLeader(), { message: 'leadership' })
    await redis.xadd(`${prefix}:stream`, '*', 'garbage', 'yes')
    await queue.flush()
    expect(await queue.deadLetters()).toHaveLength(1)
    await on.set('plain', 1, { tags: ['t'] })
    for (let i = 0; i < 5; i++) await queue.set(`k${i}`, i)

    await on.clear()

    expect(await redis.exists(`sk:{${on.namespace}:plain}`)).toBe(0)
    expect(await redis.exists(`sk:{${on.namespace}}:tags`)).toBe(0)
    expect(await redis.exists(`${prefix}:stream`, `${prefix}:dead`, `${prefix}:leader`)).toBe(3)
    await queue.flush()
    expect(store.batches.flat()).toEqual(
      [0, 1, 2, 3, 4].map((i) => ({ key: `k${i}`, value: i, deleted: false })),
    )
    expect(await queue.deadLetters()).toHaveLength(1)
  })

  it('clear() still removes the entry of a cache key that looks like a queue prefix', async () => {
    const on = cache()
    await on.set('wb:survives', 1)
    await on.clear()
    expect(await redis.exists(`sk:{${on.namespace}:wb:survives}`)).toBe(0)
  })

  it('the first set() on a cache created from a URL resolves (3 fresh caches in a row)', async () => {
    for (let run = 0; run < 3; run++) {
      const fresh = createCache({ namespace: `${filePrefix}_url${run}`, redis: serviceUrls.redis })
      caches.push(fresh)
      const store = recorder<number>()
      const queue = open(fresh, { name: 'first', write: store.write })
      await expect(queue.set('a', run)).resolves.toBeUndefined()
      await queue.flush()
      expect(store.batches.flat()).toEqual([{ key: 'a', value: run, deleted: false }])
    }
  })
})
