import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { writeBehindConformance } from '../../src/conformance/index'
import { recorder } from '../../src/conformance/write-behind'
import {
  CacheArgumentError,
  CacheClosedError,
  CacheError,
  CacheOptionsError,
  createCache,
} from '../../src/index'
import { coalesce } from '../../src/write-behind/batch'
import { createMemoryStore, createWriteBehind, writeBehindDefaults } from '../../src/write-behind/index'
import type { WriteBehindOptions } from '../../src/write-behind/index'

const cache = createCache({ namespace: 'unit-wb' })
afterAll(async () => {
  await cache.close()
})

writeBehindConformance({ describe, it, afterEach, expect }, 'memory', (options) =>
  createWriteBehind(cache, options),
)
writeBehindConformance({ describe, it, afterEach, expect }, 'memory, a store passed in', (options) =>
  createWriteBehind(cache, { ...options, store: createMemoryStore() }),
)

describe('write-behind options', () => {
  const write = (): Promise<void> => Promise.resolve()
  const invalid: [string, Partial<WriteBehindOptions<unknown>>][] = [
    ['an empty name', { name: '' }],
    ['a name with a brace (it would break the hash tag)', { name: 'a}b' }],
    ['a write that is not a function', { write: 'nope' as unknown as () => Promise<void> }],
    ['batchSize 0', { batchSize: 0 }],
    ['a fractional batchSize', { batchSize: 1.5 }],
    ['a negative flushInterval', { flushInterval: -1 }],
    ['a NaN flushInterval', { flushInterval: Number.NaN }],
    ['maxAttempts 0', { maxAttempts: 0 }],
    ['backoff.max below backoff.initial', { backoff: { initial: 500, max: 100 } }],
    ['a negative backoff.initial', { backoff: { initial: -5 } }],
    ['a backoff.jitter above 1', { backoff: { jitter: 2 } }],
    ['lease below 30 ms', { lease: 10 }],
    ['a store without the store methods', { store: {} as unknown as WriteBehindOptions<unknown>['store'] }],
  ]

  it.each(invalid)('rejects %s with CacheOptionsError at construction', (_, options) => {
    expect(() => createWriteBehind(cache, { name: 'q', write, ...options })).toThrow(CacheOptionsError)
  })

  it('needs a cache made by createCache, and an open one', async () => {
    expect(() => createWriteBehind({} as unknown as typeof cache, { name: 'q', write })).toThrow(
      CacheOptionsError,
    )
    const closed = createCache({ namespace: 'unit-wb-closed' })
    await closed.close()
    expect(() => createWriteBehind(closed, { name: 'q', write })).toThrow(CacheClosedError)
  })

  it('documents its defaults in one object', () => {
    expect(writeBehindDefaults).toEqual({
      batchSize: 100,
      flushInterval: 100,
      maxAttempts: 5,
      backoff: { initial: 100, factor: 2, max: 10_000, jitter: 1 },
      lease: 5000,
      maxDeadLetters: 10_000,
      deadLetterMaxAge: 7 * 86_400_000,
    })
  })

  it('accepts duration strings', async () => {
    const queue = createWriteBehind(cache, {
      name: 'q',
      write,
      flushInterval: '50ms',
      lease: '2s',
      backoff: { initial: '1s', max: '1m' },
    })
    await queue.close()
  })

  it('accepts a backoff.initial above the default max when max is not given', async () => {
    const queue = createWriteBehind(cache, { name: 'q', write, backoff: { initial: 20_000 } })
    await queue.close()
  })

  it('rejects an invalid close timeout, deadLetters limit and key with CacheArgumentError', async () => {
    const queue = createWriteBehind(cache, { name: 'q', write })
    await expect(queue.deadLetters(0)).rejects.toBeInstanceOf(CacheArgumentError)
    await expect(queue.set('', 1)).rejects.toBeInstanceOf(CacheArgumentError)
    await expect(queue.close({ timeout: -1 })).rejects.toBeInstanceOf(CacheArgumentError)
    await queue.close()
  })
})

describe('write-behind building blocks', () => {
  it('coalesce keeps the last operation per key, ordered by that last occurrence', () => {
    const op = (
      key: string,
      encoded: string | undefined,
    ): { key: string; deleted: boolean; encoded: string | undefined } => ({
      key,
      deleted: encoded === undefined,
      encoded,
    })
    expect(coalesce([op('a', '1'), op('b', '2'), op('a', undefined), op('c', '3'), op('b', '4')])).toEqual([
      op('a', undefined),
      op('c', '3'),
      op('b', '4'),
    ])
  })
})

describe('write-behind on a memory-only cache', () => {
  it('is always the leader until closed', async () => {
    const queue = createWriteBehind(cache, { name: 'q', write: () => Promise.resolve() })
    expect(queue.isLeader()).toBe(true)
    await queue.close()
    expect(queue.isLeader()).toBe(false)
  })

  it('updates the cache at once: reads see the new value before the store does', async () => {
    const store = recorder<number>()
    const queue = createWriteBehind<number>(cache, {
      name: 'read-through',
      write: store.write,
      flushInterval: 60_000,
    })
    await queue.set('wb:a', 1)
    expect(await cache.get('wb:a')).toBe(1)
    expect(store.batches).toEqual([])
    await queue.delete('wb:a')
    expect(await cache.get('wb:a')).toBeUndefined()
    await queue.close()
  })

  it('rejects a value the codec cannot encode at set(), queueing nothing', async () => {
    const store = recorder<unknown>()
    const queue = createWriteBehind<unknown>(cache, { name: 'q', write: store.write })
    await expect(queue.set('f', () => 1)).rejects.toMatchObject({ code: 'ERR_CACHE_ENCODE' })
    await queue.close()
    expect(store.batches).toEqual([])
  })

  it('reports the entries a close timeout leaves unwritten (they are lost: not crash-safe)', async () => {
    const errors: Error[] = []
    let release: () => void = () => undefined
    const stuck = new Promise<void>((resolve) => (release = resolve))
    const queue = createWriteBehind<number>(cache, {
      name: 'stuck',
      write: () => stuck,
      batchSize: 1,
      onError: (error) => errors.push(error),
    })
    await queue.set('a', 1)
    await queue.set('b', 2)
    await queue.close({ timeout: 100 })
    release()
    expect(errors).toEqual([expect.any(CacheError)])
    expect(errors[0]?.message).toMatch(
      /closed after 100 ms with \d+ entries not written \(memory mode: they are lost\)/,
    )
  })

  it('is flushed and closed by the cache it was made on', async () => {
    const own = createCache({ namespace: 'unit-wb-own' })
    const store = recorder<number>()
    const queue = createWriteBehind<number>(own, {
      name: 'with-cache',
      write: store.write,
      flushInterval: 60_000,
    })
    await queue.set('a', 1)
    await own.close()
    expect(store.batches.flat()).toEqual([{ key: 'a', value: 1, deleted: false }])
    await expect(queue.set('b', 2)).rejects.toBeInstanceOf(CacheClosedError)
  })

  it('keeps the queue for a write that throws synchronously, as for one that rejects', async () => {
    let calls = 0
    const queue = createWriteBehind<number>(cache, {
      name: 'sync-throw',
      maxAttempts: 2,
      backoff: { initial: 1, max: 1 },
      write: () => {
        calls += 1
        throw new Error('sync')
      },
    })
    await queue.set('a', 1)
    await queue.flush()
    expect(calls).toBe(2)
    expect((await queue.deadLetters()).map((d) => d.reason)).toEqual(['sync'])
    await queue.close()
  })
})
