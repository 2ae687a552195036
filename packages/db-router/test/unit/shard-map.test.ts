import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DbRouterArgumentError, DbRouterOptionsError } from '../../src/index'
import { bucketOf, canonicalKey, createShardMap, DbNoShardError, murmur3 } from '../../src/shards/index'
import type { StaticMapOptions } from '../../src/shards/index'

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const SHARDS = ['a', 'b', 'c'] as const

describe('murmur3 (x86, 32-bit, seed 0)', () => {
  it('matches the reference vectors', () => {
    expect(murmur3(utf8(''))).toBe(0)
    expect(murmur3(utf8('hello'))).toBe(0x248bfa47)
    expect(murmur3(utf8('The quick brown fox jumps over the lazy dog'))).toBe(0x2e4ff723)
    expect(murmur3(utf8(''), 1)).toBe(0x514e28b7)
  })

  it('hashes a key by its canonical text: 42, 42n and "42" share a bucket', () => {
    expect(canonicalKey(42)).toBe('42')
    expect(canonicalKey(42n)).toBe('42')
    expect(bucketOf(42, 1024)).toBe(bucketOf('42', 1024))
    expect(bucketOf(2n ** 70n, 1024)).toBe(bucketOf((2n ** 70n).toString(), 1024))
    for (const bad of [1.5, Number.NaN, 2 ** 60, null, undefined, {}, true])
      expect(() => canonicalKey(bad)).toThrow(DbRouterArgumentError)
  })

  it('buckets every key by murmur3 of its UTF-8, whether the key is ASCII (hashed in place) or not', () => {
    const buckets = 1 << 20
    const byBytes = (key: string): number => murmur3(utf8(key)) % buckets
    for (const key of [
      '',
      'a',
      'tenant-42',
      'x'.repeat(256),
      'x'.repeat(257),
      'é',
      'ünïcode',
      '\u007f',
      '\u0080',
      '🙂',
    ])
      expect(bucketOf(key, buckets)).toBe(byBytes(key))
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 40 })),
        (key) => {
          expect(bucketOf(key, buckets)).toBe(byBytes(key))
        },
      ),
      { numRuns: 2000 },
    )
  })
})

describe('hash map', () => {
  const map = createShardMap({ strategy: 'hash' }, SHARDS)

  it('routes deterministically, by contiguous equal bucket ranges by default', () => {
    expect(map.shards).toEqual(['a', 'b', 'c'])
    for (let i = 0; i < 1000; i += 1) {
      const key = `tenant-${i}`
      const bucket = bucketOf(key, 1024)
      expect(map.bucketOf(key)).toBe(bucket)
      expect(map.shardOf(key)).toBe(SHARDS[Math.floor((bucket * 3) / 1024)])
      expect(createShardMap({ strategy: 'hash' }, SHARDS).shardOf(key)).toBe(map.shardOf(key))
    }
  })

  it('spreads 100 000 keys across shards within a few percent (chi-square)', () => {
    const counts = new Map<string, number>()
    const perBucket = new Array<number>(1024).fill(0)
    const n = 100_000
    for (let i = 0; i < n; i += 1) {
      const key = i % 2 === 0 ? i : `user-${i}@example.com`
      counts.set(map.shardOf(key), (counts.get(map.shardOf(key)) ?? 0) + 1)
      const b = map.bucketOf(key) as number
      perBucket[b] = (perBucket[b] ?? 0) + 1
    }
    const share = { a: 342 / 1024, b: 341 / 1024, c: 341 / 1024 }
    let chi = 0
    for (const shard of SHARDS) {
      const expected = n * share[shard]
      const seen = counts.get(shard) ?? 0
      expect(Math.abs(seen - expected) / expected).toBeLessThan(0.03)
      chi += (seen - expected) ** 2 / expected
    }
    // 2 degrees of freedom: 13.8 is the 0.1% critical value.
    expect(chi).toBeLessThan(13.8)
    const e = n / 1024
    const chiBuckets = perBucket.reduce((sum, seen) => sum + (seen - e) ** 2 / e, 0)
    // 1023 degrees of freedom: mean 1023, sd ≈ 45; 1200 is ~4 sd.
    expect(chiBuckets).toBeLessThan(1200)
  })

  it('takes an explicit assignment of every bucket', () => {
    const m = createShardMap(
      { strategy: 'hash', buckets: 8, assign: { a: [[0, 3]], b: [4, 5], c: [[6, 7]] } },
      SHARDS,
    )
    for (let i = 0; i < 200; i += 1) {
      const b = bucketOf(i, 8)
      expect(m.shardOf(i)).toBe(b <= 3 ? 'a' : b <= 5 ? 'b' : 'c')
    }
  })
})

describe('range map', () => {
  const map = createShardMap(
    {
      strategy: 'range',
      ranges: [
        { shard: 'a', to: 1000 },
        { shard: 'b', from: 1000, to: 2000n },
        { shard: 'c', from: '2000' },
      ],
    },
    SHARDS,
  )

  it('routes by integer ranges, from inclusive, to exclusive; bigint strings as numbers', () => {
    expect(map.shardOf(-5)).toBe('a')
    expect(map.shardOf(999)).toBe('a')
    expect(map.shardOf(1000)).toBe('b')
    expect(map.shardOf('1999')).toBe('b')
    expect(map.shardOf(2000n)).toBe('c')
    expect(map.shardOf(2n ** 80n)).toBe('c')
    expect(map.bucketOf(5)).toBeUndefined()
    expect(() => map.shardOf('abc')).toThrow(DbNoShardError)
  })

  it('routes ISO dates as strings, and refuses a key in a gap', () => {
    const dates = createShardMap(
      {
        strategy: 'range',
        ranges: [
          { shard: 'a', from: '2024-01-01', to: '2025-01-01' },
          { shard: 'b', from: '2025-01-01', to: '2026-01-01' },
        ],
      },
      SHARDS,
    )
    expect(dates.shardOf('2024-12-31T23:59:59Z')).toBe('a')
    expect(dates.shardOf('2025-06-01')).toBe('b')
    expect(dates.shards).toEqual(['a', 'b'])
    const error = (() => {
      try {
        dates.shardOf('2023-01-01')
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(DbNoShardError)
    expect((error as DbNoShardError).code).toBe('ERR_DB_NO_SHARD')
  })
})

describe('list map', () => {
  it('routes listed keys, others to the default or refused', () => {
    const geo = createShardMap(
      { strategy: 'list', lists: { a: ['eu', 'uk'], b: ['us', 1] }, default: 'c' },
      SHARDS,
    )
    expect(geo.shardOf('eu')).toBe('a')
    expect(geo.shardOf('us')).toBe('b')
    expect(geo.shardOf(1n)).toBe('b')
    expect(geo.shardOf('apac')).toBe('c')
    const strict = createShardMap({ strategy: 'list', lists: { a: ['eu'] } }, SHARDS)
    expect(() => strict.shardOf('us')).toThrow(DbNoShardError)
  })
})

describe('map validation', () => {
  const bad: readonly [string, unknown, RegExp][] = [
    ['not an object', null, /map must be an object/],
    ['unknown strategy', { strategy: 'consistent' }, /map.strategy must be/],
    ['zero buckets', { strategy: 'hash', buckets: 0 }, /map.buckets/],
    ['fractional buckets', { strategy: 'hash', buckets: 1.5 }, /map.buckets/],
    [
      'unknown shard in assign',
      { strategy: 'hash', buckets: 4, assign: { z: [[0, 3]] } },
      /assign key must name a shard/,
    ],
    [
      'bucket given twice',
      { strategy: 'hash', buckets: 4, assign: { a: [[0, 2]], b: [[2, 3]] } },
      /bucket 2 to both a and b/,
    ],
    ['bucket left out', { strategy: 'hash', buckets: 4, assign: { a: [[0, 2]] } }, /leaves bucket 3/],
    ['bucket out of range', { strategy: 'hash', buckets: 4, assign: { a: [[0, 4]] } }, /\[0, 3\]/],
    ['no ranges', { strategy: 'range', ranges: [] }, /map.ranges must be a non-empty array/],
    [
      'overlapping ranges',
      {
        strategy: 'range',
        ranges: [
          { shard: 'a', to: 10 },
          { shard: 'b', from: 5 },
        ],
      },
      /overlap/,
    ],
    ['empty range', { strategy: 'range', ranges: [{ shard: 'a', from: 10, to: 10 }] }, /is empty/],
    [
      'mixed bound types',
      { strategy: 'range', ranges: [{ shard: 'a', from: 'x', to: 10 }] },
      /ranges\[0\]\.to must be an integer/,
    ],
    ['fractional bound', { strategy: 'range', ranges: [{ shard: 'a', from: 1.5 }] }, /integer/],
    [
      'unknown range shard',
      { strategy: 'range', ranges: [{ shard: 'z' }] },
      /ranges\[0\].shard must name a shard/,
    ],
    ['key listed twice', { strategy: 'list', lists: { a: ['eu'], b: ['eu'] } }, /both a and b/],
    ['bad list key', { strategy: 'list', lists: { a: [1.5] } }, /map.lists.a holds 1.5/],
    ['unknown default', { strategy: 'list', lists: { a: ['eu'] }, default: 'z' }, /map.default/],
  ]
  it.each(bad)('refuses %s with ERR_DB_INVALID_OPTIONS', (_, options, message) => {
    expect(() => createShardMap(options as StaticMapOptions, SHARDS)).toThrow(DbRouterOptionsError)
    expect(() => createShardMap(options as StaticMapOptions, SHARDS)).toThrow(message)
  })
})
