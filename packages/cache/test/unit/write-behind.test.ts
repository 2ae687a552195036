import { describe, expect, it } from 'vitest'
import { jsonCodec } from '../../src/codec'
import { CacheError, CacheOptionsError } from '../../src/errors'
import { backoffDelay } from '../../src/write-behind/backoff'
import { coalesce } from '../../src/write-behind/batch'
import { createWriteBehind, writeBehindDefaults } from '../../src/write-behind/index'
import type { WriteBehindDeps, WriteBehindOptions } from '../../src/write-behind/index'
import { recorder, writeBehindConformance } from '../integration/fixtures/write-behind-suite'

const deps: WriteBehindDeps = { namespace: 'test', keyPrefix: 'sk:{test:wb}', codec: jsonCodec, timeoutMs: 1_000 }

writeBehindConformance('memory', (options, extra) => createWriteBehind(options, { ...deps, ...extra }))

describe('write-behind options', () => {
  const write = (): Promise<void> => Promise.resolve()
  const invalid: [string, Partial<WriteBehindOptions<unknown>>, Partial<WriteBehindDeps>][] = [
    ['an empty name', { name: '' }, {}],
    ['a write that is not a function', { write: 'nope' as unknown as () => Promise<void> }, {}],
    ['batchSize 0', { batchSize: 0 }, {}],
    ['a fractional batchSize', { batchSize: 1.5 }, {}],
    ['a negative flushInterval', { flushInterval: -1 }, {}],
    ['a NaN flushInterval', { flushInterval: Number.NaN }, {}],
    ['maxAttempts 0', { maxAttempts: 0 }, {}],
    ['backoff.max below backoff.initial', { backoff: { initial: 500, max: 100 } }, {}],
    ['a negative backoff.initial', { backoff: { initial: -5 } }, {}],
    ['leaseMs below 30', { leaseMs: 10 }, {}],
    ['an empty keyPrefix', {}, { keyPrefix: '' }],
    ['timeoutMs 0', {}, { timeoutMs: 0 }],
    ['a codec without decode', {}, { codec: { name: 'x', encode: String } as unknown as WriteBehindDeps['codec'] }],
  ]

  it.each(invalid)('rejects %s with CacheOptionsError at construction', (_, options, extra) => {
    expect(() => createWriteBehind({ name: 'q', write, ...options }, { ...deps, ...extra })).toThrow(CacheOptionsError)
  })

  it('documents its defaults in one object', () => {
    expect(writeBehindDefaults).toMatchObject({ batchSize: 100, flushInterval: 100, maxAttempts: 5, backoffInitial: 100, backoffMax: 10_000, leaseMs: 5000 })
  })

  it('accepts a backoff.initial above the default max when max is not given', async () => {
    const queue = createWriteBehind({ name: 'q', write, backoff: { initial: 20_000 } }, deps)
    await queue.close()
  })

  it('rejects an invalid close deadline and deadLetters limit', async () => {
    const queue = createWriteBehind({ name: 'q', write }, deps)
    await expect(queue.deadLetters(0)).rejects.toBeInstanceOf(CacheOptionsError)
    await expect(queue.close(-1)).rejects.toBeInstanceOf(CacheOptionsError)
    await queue.close()
  })
})

describe('write-behind building blocks', () => {
  it('backoff is exponential with full jitter, capped by max', () => {
    const backoff = { initial: 100, max: 1_000 }
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, backoff, () => 0.999))).toEqual([99, 199, 399, 799, 999])
    expect(backoffDelay(3, backoff, () => 0)).toBe(0)
  })

  it('coalesce keeps the last operation per key, ordered by that last occurrence', () => {
    const op = (key: string, encoded: string | undefined): { key: string; deleted: boolean; encoded: string | undefined } => ({ key, deleted: encoded === undefined, encoded })
    expect(coalesce([op('a', '1'), op('b', '2'), op('a', undefined), op('c', '3'), op('b', '4')])).toEqual([
      op('a', undefined),
      op('c', '3'),
      op('b', '4'),
    ])
  })
})

describe('write-behind in memory mode', () => {
  it('is always the leader until closed', async () => {
    const queue = createWriteBehind({ name: 'q', write: () => Promise.resolve() }, deps)
    expect(queue.isLeader()).toBe(true)
    await queue.close()
    expect(queue.isLeader()).toBe(false)
  })

  it('rejects a value the codec cannot encode at set(), queueing nothing', async () => {
    const store = recorder<unknown>()
    const queue = createWriteBehind<unknown>({ name: 'q', write: store.write }, deps)
    await expect(queue.set('f', () => 1)).rejects.toMatchObject({ code: 'ERR_CACHE_ENCODE' })
    await queue.close()
    expect(store.batches).toEqual([])
  })

  it('reports the entries a close deadline leaves unwritten (they are lost: not crash-safe)', async () => {
    const errors: Error[] = []
    let release: () => void = () => undefined
    const stuck = new Promise<void>((resolve) => (release = resolve))
    const queue = createWriteBehind<number>(
      { name: 'stuck', write: () => stuck, batchSize: 1 },
      { ...deps, onError: (error) => errors.push(error) },
    )
    await queue.set('a', 1)
    await queue.set('b', 2)
    await queue.close(100)
    release()
    expect(errors).toEqual([expect.any(CacheError)])
    expect(errors[0]?.message).toMatch(/closed after 100 ms with \d+ entries not written \(memory mode: they are lost\)/)
  })

  it('keeps the queue for a write that throws synchronously, as for one that rejects', async () => {
    let calls = 0
    const queue = createWriteBehind<number>(
      {
        name: 'sync-throw',
        maxAttempts: 2,
        backoff: { initial: 1, max: 1 },
        write: () => {
          calls += 1
          throw new Error('sync')
        },
      },
      deps,
    )
    await queue.set('a', 1)
    await queue.flush()
    expect(calls).toBe(2)
    expect((await queue.deadLetters()).map((d) => d.reason)).toEqual(['sync'])
    await queue.close()
  })
})
