import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import { type CacheOptions, createCache } from '../../src/index'
import { createWriteBehind } from '../../src/write-behind/index'

const prefix = uniqueName('scan')
const redis = new Redis(serviceUrls.redis)
const listener = new Redis(serviceUrls.redis, { lazyConnect: true })
// Connected before it subscribes: ioredis' ready check cannot run on a subscribed connection.
beforeAll(() => listener.connect())
afterAll(async () => {
  const keys = await redis.keys(`*${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
  listener.disconnect()
})

const MARKER = '123-45-6789'
const secret = { ssn: MARKER }
const encryption = { keys: [{ id: 'k1', key: randomBytes(32).toString('base64') }] }

/** Every key under `namespace`, read whatever its type, and every message on its bus: all as text. */
async function everythingStored(namespace: string, busMessages: readonly string[]): Promise<string[]> {
  const seen: string[] = [...busMessages]
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${namespace}*`, 'COUNT', 1000)
    cursor = next
    for (const key of keys) {
      seen.push(key)
      const type = await redis.type(key)
      if (type === 'string') seen.push((await redis.get(key)) ?? '')
      else if (type === 'hash') seen.push(JSON.stringify(await redis.hgetall(key)))
      else if (type === 'stream') seen.push(JSON.stringify(await redis.xrange(key, '-', '+')))
      else if (type === 'zset') seen.push(JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES')))
      else if (type === 'set') seen.push(JSON.stringify(await redis.smembers(key)))
      else if (type === 'list') seen.push(JSON.stringify(await redis.lrange(key, 0, -1)))
      else if (type !== 'none') throw new Error(`a key of type ${type}: read it here too`)
    }
  } while (cursor !== '0')
  return seen
}

/** Uses every feature that writes to Redis: the tiers, tags, stale values, write-behind, dead letters, the bus. */
async function exerciseEverything(namespace: string, extra: Partial<CacheOptions>): Promise<string[]> {
  const busMessages: string[] = []
  const onMessage = (channel: string, message: string): void => {
    if (channel.includes(namespace)) busMessages.push(message)
  }
  listener.on('message', onMessage)
  await listener.subscribe(`sk:{${namespace}}:bus`)
  const options = { namespace, redis: serviceUrls.redis, ...extra }
  const a = createCache(options)
  const b = createCache(options)
  try {
    await a.set('plain', secret)
    expect(await b.get('plain')).toStrictEqual(secret)
    expect(await a.getOrSet('loaded', () => secret)).toStrictEqual(secret)
    await a.set('tagged', secret, { tags: ['team:1'] })
    expect(await b.get('tagged')).toStrictEqual(secret)
    await a.invalidateTags(['team:1'])
    await waitFor(async () => (await b.get('tagged')) === undefined)
    // Stale within grace: the factory fails after the TTL, the last value is served.
    await a.getOrSet('stale', () => ({ ...secret, n: 1 }), { ttl: 30, grace: '1m' })
    await waitFor(async () => (await b.get('stale')) === undefined)
    expect(
      await a.getOrSet('stale', () => Promise.reject(new Error('down')), { ttl: 30, grace: '1m' }),
    ).toMatchObject(secret)
    await a.set('special', { m: new Map([['ssn', MARKER]]), s: new Set([MARKER]), n: 10n, at: new Date(0) })
    expect(await b.get('special')).toMatchObject({ n: 10n })
    await a.set('gone', secret)
    await a.delete('gone')

    let fail = false
    const written: unknown[] = []
    const queue = createWriteBehind<unknown>(a, {
      name: 'users',
      maxAttempts: 1,
      flushInterval: 10,
      write: (batch) => {
        if (fail) return Promise.reject(new Error(`cannot store ${JSON.stringify(batch[0]?.value)}`))
        written.push(...batch)
        return Promise.resolve()
      },
    })
    await queue.set('wb:1', secret)
    await queue.set('wb:2', secret)
    await queue.delete('wb:2')
    await queue.flush()
    expect(written.length).toBeGreaterThan(0)
    fail = true
    await queue.set('wb:dead', secret)
    await queue.flush()
    expect((await queue.deadLetters()).map((l) => l.key)).toEqual(['wb:dead'])
    // Queued, not yet written: what waits in the stream.
    await queue.close()
    const waiting = createWriteBehind<unknown>(b, {
      name: 'waiting',
      flushInterval: '1h',
      batchSize: 1000,
      write: () => Promise.resolve(),
    })
    await waiting.set('wb:queued', secret)
    await waitFor(() => busMessages.length > 0)
    const stored = await everythingStored(namespace, busMessages)
    await waiting.close({ timeout: 10 })
    return stored
  } finally {
    await Promise.all([a.close(), b.close()])
    listener.off('message', onMessage)
    await listener.unsubscribe(`sk:{${namespace}}:bus`)
  }
}

describe('with encryption on, no value the cache writes to Redis is in clear (issue 12, defect 2)', () => {
  it('finds the marker nowhere in any key, stream, sorted set or bus message', async () => {
    const stored = await exerciseEverything(`${prefix}_on`, { encryption })
    // The scan saw the queues, the dead letters, the entries, the tags and the bus.
    const text = stored.join('\n')
    for (const part of [':stream', ':dead', ':tags', 'sk:{', ':v1.k1.']) expect(text).toContain(part)
    expect(stored.filter((s) => s.includes(MARKER))).toEqual([])
  })

  it('the same scan finds it without encryption (the test can fail)', async () => {
    const stored = await exerciseEverything(`${prefix}_off`, {})
    expect(stored.filter((s) => s.includes(MARKER)).length).toBeGreaterThan(3)
  })
})
