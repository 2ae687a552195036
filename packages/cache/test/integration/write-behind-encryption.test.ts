import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import { sharedRedis } from './support'
import { createCache } from '../../src/index'
import {
  createWriteBehind,
  type WriteBehindEntry,
  type WriteBehindOptions,
} from '../../src/write-behind/index'

const namespace = uniqueName('wbcrypt')
const { redis, cleanup } = sharedRedis(namespace)
afterAll(cleanup)
const encryption = { keys: [{ id: 'k1', key: randomBytes(32).toString('base64') }] }
const MARKER = '123-45-6789'
const secret = { ssn: MARKER }

/** Every field and value of every entry of a stream, as stored. */
async function streamText(key: string): Promise<string> {
  return JSON.stringify(await redis.xrange(key, '-', '+'))
}

describe('write-behind with encryption (issue 12, defect 2)', () => {
  it('queues and dead-letters ciphertext only, the reason too, and hands the values back decrypted', async () => {
    const cache = createCache({ namespace, redis: serviceUrls.redis, encryption })
    let fail = true
    const written: WriteBehindEntry<typeof secret>[] = []
    const queue = createWriteBehind<typeof secret>(cache, {
      name: 'crypt',
      maxAttempts: 1,
      flushInterval: 10,
      write: (batch) => {
        // A store's error may quote the value (PostgreSQL does): the reason is encrypted too.
        if (fail) return Promise.reject(new Error(`duplicate key value (ssn)=(${MARKER})`))
        written.push(...batch)
        return Promise.resolve()
      },
    })
    const prefix = `sk:{${namespace}:wb:crypt}`
    await queue.set('user:1', secret)
    await queue.delete('user:2')
    const queued = await streamText(`${prefix}:stream`)
    expect(queued).toContain('user:1')
    expect(queued).not.toContain(MARKER)
    await queue.flush()
    const dead = await streamText(`${prefix}:dead`)
    expect(dead).toContain('user:1')
    expect(dead).not.toContain(MARKER)
    const letters = await queue.deadLetters()
    expect(letters.map((l) => [l.key, l.value, l.deleted])).toEqual([
      ['user:1', secret, false],
      ['user:2', undefined, true],
    ])
    expect(letters[0]?.reason).toBe(`duplicate key value (ssn)=(${MARKER})`)

    fail = false
    await queue.set('user:3', secret)
    await queue.flush()
    expect(written).toEqual([{ key: 'user:3', deleted: false, value: secret }])
    await cache.close()
  })

  it('dead-letters an operation injected into the stream without the key, never writes it', async () => {
    const cache = createCache({ namespace, redis: serviceUrls.redis, encryption })
    const written: WriteBehindEntry<unknown>[] = []
    const queue = createWriteBehind<unknown>(cache, {
      name: 'injected',
      flushInterval: 10,
      write: (batch) => {
        written.push(...batch)
        return Promise.resolve()
      },
    })
    const stream = `sk:{${namespace}:wb:injected}:stream`
    await redis.xadd(stream, '*', 'key', 'account:1', 'op', 'del')
    await redis.xadd(stream, '*', 'key', 'account:2', 'op', 'set', 'value', '{"admin":true}')
    await queue.set('account:3', { ok: true })
    await queue.flush()
    expect(written).toEqual([{ key: 'account:3', deleted: false, value: { ok: true } }])
    const letters = await queue.deadLetters()
    expect(letters.map((l) => l.key).sort()).toEqual(['account:1', 'account:2'])
    expect(letters.every((l) => l.reason.startsWith('undecodable'))).toBe(true)
    await cache.close()
  })
})

describe('the dead-letter stream is bounded (issue 12, defect 2)', () => {
  it('keeps at most maxDeadLetters, drops those older than deadLetterMaxAge, and expires after the last one', async () => {
    const cache = createCache({ namespace, redis: serviceUrls.redis })
    const queue = createWriteBehind<number>(cache, {
      name: 'bounded',
      maxAttempts: 1,
      batchSize: 1,
      flushInterval: 10,
      maxDeadLetters: 3,
      deadLetterMaxAge: '1h',
      write: () => Promise.reject(new Error('store down')),
    })
    const dead = `sk:{${namespace}:wb:bounded}:dead`
    // A dead letter from long ago (its id's time is 1970).
    await redis.xadd(
      dead,
      '1000-0',
      'key',
      'ancient',
      'op',
      'set',
      'value',
      '1',
      'reason',
      'x',
      'attempts',
      '1',
    )
    await queue.set('k0', 0)
    await queue.flush()
    expect((await queue.deadLetters()).map((l) => l.key)).toEqual(['k0'])
    for (let i = 1; i <= 5; i++) await queue.set(`k${i}`, i)
    await queue.flush()
    await waitFor(async () => (await redis.xlen(dead)) === 3)
    expect((await queue.deadLetters()).map((l) => l.key)).toEqual(['k3', 'k4', 'k5'])
    const pttl = await redis.pttl(dead)
    expect(pttl).toBeGreaterThan(0)
    expect(pttl).toBeLessThanOrEqual(3_600_000)
    await cache.close()
  })

  it.each<[Partial<WriteBehindOptions<unknown>>]>([
    [{ maxDeadLetters: 0 }],
    [{ maxDeadLetters: 1.5 }],
    [{ deadLetterMaxAge: '30d' }],
    [{ deadLetterMaxAge: -1 }],
  ])('refuses %j with ERR_CACHE_INVALID_OPTIONS', (options) => {
    const cache = createCache({ namespace })
    expect(() =>
      createWriteBehind(cache, { name: 'bad', write: () => Promise.resolve(), ...options }),
    ).toThrow(expect.objectContaining({ code: 'ERR_CACHE_INVALID_OPTIONS' }) as Error)
    void cache.close()
  })
})
