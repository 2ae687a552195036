import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { serviceUrls, startRedisServer, uniqueName, waitFor } from '@scalekit/test-utils'
import type { RedisServer } from '@scalekit/test-utils'
import { jsonCodec } from '../../src/codec'
import { CacheUnavailableError } from '../../src/errors'
import { createWriteBehind } from '../../src/write-behind/index'
import type { WriteBehindDeps, WriteBehindEntry, WriteBehindOptions, WriteBehindQueue } from '../../src/write-behind/index'
import { recorder, writeBehindConformance } from './fixtures/write-behind-suite'

// Every key of this file starts with `filePrefix:` (cleaned up after); each queue gets its own hash tag.
const filePrefix = uniqueName('wb')
const redis = new Redis(serviceUrls.redis, { lazyConnect: true })
const clients: Redis[] = [redis]
const queues: WriteBehindQueue<unknown>[] = []

function queuePrefix(): string {
  return `${filePrefix}:{${uniqueName('q')}}`
}

function deps(keyPrefix: string, client: Redis = redis, extra: Partial<WriteBehindDeps> = {}): WriteBehindDeps {
  return { namespace: 'wb-test', redis: client, keyPrefix, codec: jsonCodec, timeoutMs: 2_000, ...extra }
}

function open<T>(options: WriteBehindOptions<T>, queueDeps: WriteBehindDeps): WriteBehindQueue<T> {
  const queue = createWriteBehind(options, queueDeps)
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
  await Promise.all(queues.splice(0).map((q) => q.close(5_000)))
})

afterAll(async () => {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${filePrefix}:*`, 'COUNT', 1000)
    if (keys.length > 0) await redis.del(...keys)
    cursor = next
  } while (cursor !== '0')
  for (const c of clients) c.disconnect()
})

writeBehindConformance('redis', (options, extra) => createWriteBehind(options, deps(queuePrefix(), redis, extra)))

describe('write-behind on Redis', () => {
  it('queues in a stream under the prefix, leads through a lease, and leaves nothing behind once flushed and closed', async () => {
    const prefix = queuePrefix()
    const store = recorder<{ n: number }>()
    const queue = open({ name: 'layout', write: store.write, flushInterval: 60_000 }, deps(prefix))
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

  it('lets one instance flush at a time; the store ends with the last value per key', async () => {
    const prefix = queuePrefix()
    const storeOfRecord = new Map<string, number>()
    let active = 0
    let maxActive = 0
    const writers = new Set<string>()
    const writeAs = (who: string) => async (batch: readonly WriteBehindEntry<number>[]): Promise<void> => {
      active += 1
      maxActive = Math.max(maxActive, active)
      writers.add(who)
      await new Promise((resolve) => setTimeout(resolve, 5))
      for (const e of batch) {
        if (e.deleted) storeOfRecord.delete(e.key)
        else storeOfRecord.set(e.key, e.value ?? -1)
      }
      active -= 1
    }
    const options = { name: 'shared', batchSize: 20, flushInterval: 20, leaseMs: 1_000 }
    const a = open({ ...options, write: writeAs('a') }, deps(prefix, client()))
    const b = open({ ...options, write: writeAs('b') }, deps(prefix, client()))
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
    const prefix = queuePrefix()
    const store = recorder<number>()
    const options = { name: 'handover', write: store.write, leaseMs: 600 }
    const first = open(options, deps(prefix, client()))
    await waitFor(() => first.isLeader(), { message: 'first leads' })
    const second = open(options, deps(prefix, client()))
    await first.set('a', 1)
    await first.close()
    await waitFor(() => second.isLeader(), { timeout: 10_000, message: 'second takes over' })
    await second.set('a', 2)
    await second.flush()
    expect(store.batches.flat().map((e) => e.value)).toEqual([1, 2])
  })

  it('starts on a lazy client without an offline queue (as the cache creates) without a spurious error', async () => {
    const lazy = new Redis(serviceUrls.redis, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 })
    clients.push(lazy)
    const errors: Error[] = []
    const store = recorder<number>()
    const queue = open({ name: 'lazy', write: store.write }, deps(queuePrefix(), lazy, { onError: (e) => errors.push(e) }))
    await waitFor(() => queue.isLeader(), { message: 'leadership' })
    await queue.set('a', 1)
    await queue.flush()
    expect(store.batches.flat()).toEqual([{ key: 'a', value: 1, deleted: false }])
    expect(errors).toEqual([])
  })

  it('dead-letters a malformed stream entry and goes on', async () => {
    const prefix = queuePrefix()
    const store = recorder<number>()
    const errors: Error[] = []
    const queue = open({ name: 'poison', write: store.write }, deps(prefix, redis, { onError: (e) => errors.push(e) }))
    await redis.xadd(`${prefix}:stream`, '*', 'garbage', 'yes')
    await queue.set('ok', 1)
    await queue.flush()
    expect(store.batches.flat()).toEqual([{ key: 'ok', value: 1, deleted: false }])
    const [letter] = await queue.deadLetters()
    expect(letter).toMatchObject({ key: '', attempts: 0, reason: expect.stringMatching(/malformed/) as unknown })
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

  it('rejects set() with CacheUnavailableError within timeoutMs, reports loop errors, and recovers', async () => {
    const errors: Error[] = []
    const store = recorder<number>()
    const prefix = queuePrefix()
    const queue = open(
      { name: 'outage', write: store.write, leaseMs: 600, backoff: { initial: 20, max: 200 } },
      deps(prefix, client(server.url), { timeoutMs: 300, onError: (e) => errors.push(e) }),
    )
    await queue.set('a', 1)
    await queue.flush()
    await server.stop()
    const failure = await queue.set('b', 2).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(CacheUnavailableError)
    expect(failure).toMatchObject({ code: 'ERR_CACHE_L2_UNAVAILABLE' })
    await waitFor(() => errors.some((e) => e instanceof CacheUnavailableError), { timeout: 10_000, message: 'a reported loop error' })
    // No persistence: the restarted server is empty, as a replaced node would be.
    await server.restart()
    await waitFor(async () => queue.set('c', 3).then(() => true, () => false), { timeout: 15_000, message: 'set() works again' })
    await waitFor(() => store.batches.flat().some((e) => e.key === 'c'), { timeout: 15_000, message: 'c flushed after the restart' })
    expect(store.batches.flat()[0]).toEqual({ key: 'a', value: 1, deleted: false })
  })

  it('closes within its deadline while Redis is down, without hanging or unhandled rejections', async () => {
    const errors: Error[] = []
    const queue = open(
      { name: 'down', write: () => Promise.resolve() },
      deps(queuePrefix(), client(server.url), { timeoutMs: 200, onError: (e) => errors.push(e) }),
    )
    await waitFor(() => queue.isLeader(), { message: 'leadership' })
    await server.stop()
    await queue.close(1_000)
    expect(queue.isLeader()).toBe(false)
    await server.restart()
  })
})
