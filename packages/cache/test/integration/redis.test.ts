import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import { type Cache, createCache } from '../../src/index'
import { createWriteBehind } from '../../src/write-behind/index'

const namespace = uniqueName('cache')
let redis: Redis
let a: Cache
let b: Cache

beforeAll(async () => {
  redis = new Redis(serviceUrls.redis)
  a = createCache({ namespace, redis: serviceUrls.redis, ttl: 60_000 })
  b = createCache({ namespace, redis: serviceUrls.redis, ttl: 60_000 })
  await waitFor(() => a.health().l2?.busConnected === true && b.health().l2?.busConnected === true, {
    message: 'bus subscribed',
  })
})

afterAll(async () => {
  await a.clear()
  await Promise.all([a.close(), b.close()])
  redis.disconnect()
})

describe('two instances over one Redis', () => {
  it('a value set on one is read by the other through L2, with the same shape', async () => {
    const value = {
      at: new Date(1_700_000_000_000),
      id: 2n ** 70n,
      roles: new Set(['admin']),
      meta: new Map([['k', [1, undefined, null]]]),
    }
    await a.set('shape', value)
    expect(await b.get('shape')).toStrictEqual(value)
    expect(await b.get('shape')).toStrictEqual(await a.get('shape'))
  })

  it('set, delete and invalidateTags on one reach the other instance L1 within the bound', async () => {
    await a.set('coherent', 'v1', { tags: ['t:coherent'] })
    expect(await b.get('coherent')).toBe('v1') // now in b's L1
    const delays: number[] = []
    for (let i = 2; i < 22; i++) {
      const started = performance.now()
      await a.set('coherent', `v${i}`, { tags: ['t:coherent'] })
      await waitFor(async () => (await b.get('coherent')) === `v${i}`, { timeout: 2_000, interval: 1 })
      delays.push(performance.now() - started)
    }
    await a.delete('coherent')
    await waitFor(async () => (await b.get('coherent')) === undefined, { timeout: 2_000, interval: 1 })
    await b.set('tagged', 1, { tags: ['t:x'] })
    expect(await a.get('tagged')).toBe(1)
    await b.invalidateTags(['t:x'])
    await waitFor(async () => (await a.get('tagged')) === undefined, { timeout: 2_000, interval: 1 })
    delays.sort((x, y) => x - y)
    console.log(
      `L1 coherence on loopback: median ${delays[10]?.toFixed(2)} ms, max ${delays.at(-1)?.toFixed(2)} ms`,
    )
  })

  it('a refresh that started before a delete never writes its old value back', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const slow = a.getOrSet('cas', async () => {
      await gate
      return 'computed-before-delete'
    })
    await waitFor(async () => (await redis.exists(`sk:{${namespace}:cas}:lock`)) === 1)
    await b.set('cas', 'newer')
    release()
    expect(await slow).toBe('computed-before-delete')
    expect(await b.get('cas')).toBe('newer')
    expect(await a.get('cas')).toBe('newer')
  })

  it('an entry tagged before invalidateTags is not served even when the refresh lands after it', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const slow = a.getOrSet(
      'tag-race',
      async () => {
        await gate
        return 'old'
      },
      { tags: ['t:race'] },
    )
    await waitFor(async () => (await redis.exists(`sk:{${namespace}:tag-race}:lock`)) === 1)
    await sleep(2)
    await b.invalidateTags(['t:race'])
    release()
    await slow
    expect(await b.get('tag-race')).toBeUndefined()
    expect(await b.getOrSet('tag-race', () => 'fresh', { tags: ['t:race'] })).toBe('fresh')
  })

  it('tags with any characters round-trip through Redis and invalidate', async () => {
    const tags = ['üser:ß', 'emoji:😀', 'quote:"|{}']
    await a.set('unicode-tags', 'v', { tags })
    expect(await b.get('unicode-tags')).toBe('v')
    await b.invalidateTags(['emoji:😀'])
    await waitFor(async () => (await a.get('unicode-tags')) === undefined, { timeout: 1_000, interval: 2 })
  })

  it('an undecodable entry is a miss, not a crash', async () => {
    await a.set('garbage', 1)
    const raw = await redis.get(`sk:{${namespace}:garbage}`)
    await redis.set(
      `sk:{${namespace}:garbage}`,
      `${raw?.slice(0, raw.lastIndexOf('|') + 1) ?? ''}{not json`,
      'PX',
      60_000,
    )
    await a.delete('other') // no-op; keeps L1 of a untouched for 'garbage'
    expect(await b.get('garbage')).toBeUndefined()
    expect(await b.getOrSet('garbage', () => 2)).toBe(2)
  })

  it('getOrSet across instances runs the factory once per key', async () => {
    let calls = 0
    const factory = async (): Promise<string> => {
      calls++
      await sleep(50)
      return 'once'
    }
    const all = await Promise.all([
      ...Array.from({ length: 50 }, () => a.getOrSet('shared', factory)),
      ...Array.from({ length: 50 }, () => b.getOrSet('shared', factory)),
    ])
    expect(new Set(all)).toEqual(new Set(['once']))
    expect(calls).toBe(1)
  })

  it('clear() removes only this namespace', async () => {
    const other = createCache({ namespace: `${namespace}x`, redis: serviceUrls.redis })
    await other.set('keep', 1)
    await a.set('drop', 1)
    await a.clear()
    expect(await b.get('drop')).toBeUndefined()
    expect(await other.get('keep')).toBe(1)
    await other.clear()
    await other.close()
  })

  it('writeBehind answers reads from the cache at once and reaches the store in batches', async () => {
    const store = new Map<string, unknown>()
    const batches: number[] = []
    const queue = createWriteBehind<{ total: number }>(a, {
      name: 'orders',
      flushInterval: 20,
      write: async (batch) => {
        batches.push(batch.length)
        for (const entry of batch) {
          if (entry.deleted) store.delete(entry.key)
          else store.set(entry.key, entry.value)
        }
        await sleep(1)
      },
    })
    for (let i = 0; i < 50; i++) await queue.set(`order:${i % 10}`, { total: i })
    expect(await b.get('order:9')).toStrictEqual({ total: 49 })
    await queue.flush()
    expect(store.get('order:9')).toStrictEqual({ total: 49 })
    expect(store.size).toBe(10)
    await queue.close()
  })

  it('concurrent reads batched into MGETs each get their own key, hits and misses alike', async () => {
    const reader = createCache({ namespace, redis: serviceUrls.redis, l1: false })
    await Promise.all(Array.from({ length: 400 }, (_, i) => a.set(`batch:${i}`, { i })))
    const keys = Array.from({ length: 600 }, (_, i) => `batch:${i}`) // > 256: two chunks; 200 misses
    const values = await Promise.all(keys.map((k) => reader.get<{ i: number }>(k)))
    expect(values.map((v) => v?.i)).toEqual(keys.map((_, i) => (i < 400 ? i : undefined)))
    await reader.close()
  })
})
