import { describe, expect, it } from 'vitest'
import { DbRouterArgumentError, DbRouterOptionsError } from '../../src/index'
import { bucketOf, createShardIds } from '../../src/shards/index'
import { addDecimal, compareDecimal, mergeSorted } from '../../src/shards/merge'

describe('exact decimal arithmetic of merged bigint/numeric columns', () => {
  it('compares and adds decimal text without losing precision', () => {
    expect(compareDecimal('9', '10')).toBeLessThan(0)
    expect(compareDecimal('-1.5', '-1.25')).toBeLessThan(0)
    expect(compareDecimal('12345678901234567890', '12345678901234567891')).toBeLessThan(0)
    expect(compareDecimal('1.10', '1.1')).toBe(0)
    expect(compareDecimal('NaN', '1e999'.replace('e999', ''))).toBeGreaterThan(0)
    expect(addDecimal('9007199254740993', '1')).toBe('9007199254740994')
    expect(addDecimal('0.1', '0.2')).toBe('0.3')
    expect(addDecimal('-5.25', '2')).toBe('-3.25')
    expect(addDecimal('-0.5', '0.25')).toBe('-0.25')
  })

  it('k-way merges sorted lists and stops at the limit', () => {
    const lists = [
      [1, 4, 7],
      [2, 5, 8],
      [0, 3, 6, 9],
    ]
    expect(mergeSorted(lists, (a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(mergeSorted(lists, (a, b) => a - b, 4)).toEqual([0, 1, 2, 3])
    expect(mergeSorted([[], [1]], (a, b) => a - b)).toEqual([1])
  })
})

describe('createShardIds', () => {
  it('makes unique, time-ordered ids that carry their key bucket', () => {
    const ids = createShardIds({ worker: 3 })
    const seen = new Set<bigint>()
    let previous = -1n
    for (let i = 0; i < 20_000; i += 1) {
      const id = ids.next('tenant-7')
      expect(id).toBeGreaterThan(previous)
      previous = id
      seen.add(id)
      expect(id < 1n << 63n).toBe(true)
    }
    expect(seen.size).toBe(20_000)
    expect(ids.bucketOf(previous)).toBe(bucketOf('tenant-7', 1024))
    expect(ids.bucketOf(previous.toString())).toBe(bucketOf('tenant-7', 1024))
    expect(Math.abs(ids.timeOf(previous) - Date.now())).toBeLessThan(60_000)
    const other = createShardIds({ worker: 4 })
    expect(other.next('tenant-7')).not.toBe(ids.next('tenant-7'))
  })

  it('validates its options and arguments', () => {
    expect(() => createShardIds({ worker: 32 })).toThrow(DbRouterOptionsError)
    expect(() => createShardIds({ worker: 1, buckets: 1000 })).toThrow(/power of two/)
    expect(() => createShardIds({ worker: 1 }).bucketOf('abc')).toThrow(DbRouterArgumentError)
  })
})
