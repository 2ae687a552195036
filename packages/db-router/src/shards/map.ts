import { createChecks, describeValue } from '@scalekit/internal'
import type { Duration } from '@scalekit/internal'
import { DbNoShardError, DbRouterArgumentError, DbRouterOptionsError } from '../errors'
import type { ShardKey } from './hash'
import { bucketOf, canonicalKey } from './hash'

const check = createChecks(DbRouterOptionsError)

/** The default number of virtual buckets: enough to spread and move load finely across dozens of shards. */
export const DEFAULT_BUCKETS = 1024

/** One bucket, or an inclusive range `[first, last]` of buckets. */
export type BucketRange = number | readonly [number, number]

/**
 * Hash: a key's bucket is `murmur3(key) mod buckets`; buckets belong to shards. Growing moves
 * buckets, never re-hashes every key.
 */
export interface HashMapOptions {
  strategy: 'hash'
  /** Virtual buckets, fixed for the life of the data. @default 1024 */
  buckets?: number
  /**
   * Which buckets each shard owns: every bucket exactly once. @default equal contiguous ranges in
   * the order of `shards`
   */
  assign?: Readonly<Record<string, readonly BucketRange[]>>
}

/** One range of a range map: keys `from <= key < to` (an end left out is open). */
export interface KeyRange {
  shard: string
  from?: ShardKey
  to?: ShardKey
}

/**
 * Range: by an ordered key (ids, dates as ISO strings). Bounds are all integers (number, bigint, or
 * integer strings as Postgres returns `bigint`: then the map is numeric) or all strings (compared by UTF-16 code units, as
 * `COLLATE "C"` for ASCII). Ranges may not overlap; a key in a gap is refused with `ERR_DB_NO_SHARD`.
 */
export interface RangeMapOptions {
  strategy: 'range'
  ranges: readonly KeyRange[]
}

/** List (geographic): each listed key (a region, a country) to a shard; others to `default`, or refused. */
export interface ListMapOptions {
  strategy: 'list'
  lists: Readonly<Record<string, readonly ShardKey[]>>
  /** The shard of keys in no list. @default none: such keys are refused with `ERR_DB_NO_SHARD` */
  default?: string
}

/**
 * Directory: a key's bucket is hashed as in a hash map, and the bucket's shard is read from a table
 * on the `home` shard (created by `initDirectory()` or `scalekit-db init-directory`), versioned by
 * an epoch, so buckets can be moved between shards while the app runs (`moveBucket()`).
 */
export interface DirectoryMapOptions {
  strategy: 'directory'
  /** The shard whose primary holds the directory tables. */
  home: string
  /** Virtual buckets, fixed for the life of the data. @default 1024 */
  buckets?: number
  /** Prefix of the directory's tables (`<prefix>_directory`, `<prefix>_directory_epoch` on `home`, `<prefix>_buckets` on every shard). @default 'scalekit_shard' */
  prefix?: string
  /** How often the cached directory's epoch is re-checked (a write to a moved bucket re-reads it at once). @default 1000 */
  refresh?: Duration
  /** How long a write to a bucket being moved waits and retries before `ERR_DB_BUCKET_MOVING`. @default 10000 */
  fenceWait?: Duration
}

/** The shard map of {@link createShardMap} and `createShardedRouter({ map })`. */
export type StaticMapOptions = HashMapOptions | RangeMapOptions | ListMapOptions

/** A validated, immutable map from keys to shard names. */
export interface ShardMap {
  readonly strategy: 'hash' | 'range' | 'list' | 'directory'
  /** The shards the map routes to, in order. */
  readonly shards: readonly string[]
  /** The shard that owns `key`; `ERR_DB_NO_SHARD` if none, `ERR_DB_INVALID_ARGUMENT` for a bad key. */
  shardOf(key: ShardKey): string
  /** The key's bucket (hash and directory maps); undefined for range and list maps. */
  bucketOf(key: ShardKey): number | undefined
  /** The shard that owns `bucket` (hash and directory maps; `ERR_DB_INVALID_ARGUMENT` for others): routes a row by an id of `createShardIds`. */
  shardOfBucket(bucket: number): string
}

/**
 * Builds and validates a shard map over the shard names `shards` (coded `ERR_DB_INVALID_OPTIONS`
 * naming the option at fault). `createShardedRouter` calls it; it is exported to compute placements
 * elsewhere (a job that partitions work by shard, a migration script).
 */
export function createShardMap(options: StaticMapOptions, shards: readonly string[]): ShardMap {
  const given: unknown = options
  if (typeof given !== 'object' || given === null)
    check.fail(`map must be an object, got ${describeValue(given)}`)
  if (shards.length === 0) check.fail('shards must name at least one shard')
  switch (options.strategy) {
    case 'hash':
      return hashMap(options, shards)
    case 'range':
      return rangeMap(options, shards)
    case 'list':
      return listMap(options, shards)
    default:
      return check.fail(
        `map.strategy must be 'hash', 'range', 'list' or 'directory', got ${describeValue((given as { strategy?: unknown }).strategy)}`,
      )
  }
}

function known(name: string, shard: unknown, shards: readonly string[]): string {
  if (typeof shard !== 'string' || !shards.includes(shard))
    check.fail(
      `${name} must name a shard of options.shards (${shards.join(', ')}), got ${describeValue(shard)}`,
    )
  return shard as string
}

/** The bucket → shard index table of a hash map (also the initial table of a directory). */
export function bucketTable(
  name: string,
  buckets: number,
  assign: Readonly<Record<string, readonly BucketRange[]>> | undefined,
  shards: readonly string[],
): string[] {
  const table = new Array<string | undefined>(buckets).fill(undefined)
  if (assign === undefined) {
    for (let b = 0; b < buckets; b += 1) table[b] = shards[Math.floor((b * shards.length) / buckets)]
    return table as string[]
  }
  check.group(`${name}.assign`, assign)
  for (const [shard, ranges] of Object.entries(assign)) {
    known(`${name}.assign key`, shard, shards)
    if (!Array.isArray(ranges))
      check.fail(`${name}.assign.${shard} must be an array of buckets or [first, last] ranges`)
    for (const range of ranges as readonly BucketRange[]) {
      const [first, last] =
        typeof range === 'number' ? [range, range] : Array.isArray(range) ? range : [NaN, NaN]
      const ok = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0 && (v as number) < buckets
      if (!ok(first) || !ok(last) || first > last)
        check.fail(
          `${name}.assign.${shard} has ${describeValue(range)}: buckets are whole numbers in [0, ${buckets - 1}]`,
        )
      for (let b = first; b <= last; b += 1) {
        if (table[b] !== undefined)
          check.fail(`${name}.assign gives bucket ${b} to both ${table[b]} and ${shard}`)
        table[b] = shard
      }
    }
  }
  const missing = table.findIndex((s) => s === undefined)
  if (missing >= 0)
    check.fail(`${name}.assign leaves bucket ${missing} without a shard: every bucket needs one`)
  return table as string[]
}

export function bucketCount(name: string, value: unknown): number {
  return check.integer(`${name}.buckets`, value, DEFAULT_BUCKETS, { min: 1, max: 1 << 20 })
}

function hashMap(options: HashMapOptions, shards: readonly string[]): ShardMap {
  const buckets = bucketCount('map', options.buckets)
  const table = bucketTable('map', buckets, options.assign, shards)
  const used = shards.filter((s) => table.includes(s))
  return {
    strategy: 'hash',
    shards: used,
    shardOf: (key) => table[bucketOf(key, buckets)] as string,
    bucketOf: (key) => bucketOf(key, buckets),
    shardOfBucket: (bucket) => {
      const shard = table[bucket]
      if (shard === undefined || !Number.isInteger(bucket))
        throw new DbRouterArgumentError(
          `bucket must be a whole number in [0, ${buckets - 1}], got ${describeValue(bucket)}`,
        )
      return shard
    },
  }
}

type Bound = { kind: 'int'; value: bigint } | { kind: 'string'; value: string }

function intBound(key: unknown): bigint | undefined {
  if (typeof key === 'bigint') return key
  if (typeof key === 'number' && Number.isSafeInteger(key)) return BigInt(key)
  if (typeof key === 'string' && /^-?\d+$/.test(key)) return BigInt(key)
  return undefined
}

function compareBound(a: Bound, b: Bound): number {
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0
}

function rangeMap(options: RangeMapOptions, shards: readonly string[]): ShardMap {
  const ranges: unknown = options.ranges
  if (!Array.isArray(ranges) || ranges.length === 0)
    check.fail('map.ranges must be a non-empty array of { shard, from?, to? }')
  const list = ranges as readonly KeyRange[]
  const bounds = list.flatMap((r) => [r.from, r.to]).filter((v) => v !== undefined)
  const kind = bounds.every((v) => intBound(v) !== undefined) ? 'int' : 'string'
  const bound = (name: string, v: unknown): Bound | undefined => {
    if (v === undefined) return undefined
    if (kind === 'string') {
      if (typeof v !== 'string')
        check.fail(
          `${name} must be an integer (number, bigint) or, in a map of string bounds, a string, got ${describeValue(v)}`,
        )
      return { kind, value: v as string }
    }
    const int = intBound(v)
    if (int === undefined) check.fail(`${name} must be an integer or a bigint, got ${describeValue(v)}`)
    return { kind, value: int as bigint }
  }
  const parsed = list.map((r, i) => {
    if (typeof r !== 'object' || (r as unknown) === null)
      check.fail(`map.ranges[${i}] must be { shard, from?, to? }`)
    const from = bound(`map.ranges[${i}].from`, r.from)
    const to = bound(`map.ranges[${i}].to`, r.to)
    if (from !== undefined && to !== undefined && compareBound(from, to) >= 0)
      check.fail(`map.ranges[${i}] is empty: from must be below to`)
    return { shard: known(`map.ranges[${i}].shard`, r.shard, shards), from, to, index: i }
  })
  parsed.sort((a, b) => (a.from === undefined ? -1 : b.from === undefined ? 1 : compareBound(a.from, b.from)))
  for (let i = 1; i < parsed.length; i += 1) {
    const prev = parsed[i - 1]
    const next = parsed[i]
    if (prev === undefined || next === undefined) continue
    if (prev.to === undefined || next.from === undefined || compareBound(prev.to, next.from) > 0)
      check.fail(`map.ranges[${prev.index}] and map.ranges[${next.index}] overlap`)
  }
  const shardOf = (key: ShardKey): string => {
    canonicalKey(key)
    let k: Bound | undefined
    if (kind === 'string') k = typeof key === 'string' ? { kind, value: key } : undefined
    else {
      const int = intBound(key)
      k = int === undefined ? undefined : { kind, value: int }
    }
    if (k === undefined)
      throw new DbNoShardError(
        `the key is not ${kind === 'int' ? 'an integer' : 'a string'}, as the range map's bounds are`,
      )
    for (const r of parsed) {
      if (
        (r.from === undefined || compareBound(r.from, k) <= 0) &&
        (r.to === undefined || compareBound(k, r.to) < 0)
      )
        return r.shard
    }
    throw new DbNoShardError('the key is in no range of the shard map')
  }
  return {
    strategy: 'range',
    shards: [...new Set(parsed.map((r) => r.shard))],
    shardOf,
    bucketOf: () => undefined,
    shardOfBucket: noBuckets,
  }
}

function listMap(options: ListMapOptions, shards: readonly string[]): ShardMap {
  const lists = check.group('map.lists', options.lists)
  const owner = new Map<string, string>()
  for (const [shard, keys] of Object.entries(lists)) {
    known('map.lists key', shard, shards)
    if (!Array.isArray(keys)) check.fail(`map.lists.${shard} must be an array of keys`)
    for (const key of keys as readonly unknown[]) {
      let text: string
      try {
        text = canonicalKey(key)
      } catch {
        return check.fail(
          `map.lists.${shard} holds ${describeValue(key)}: keys are strings, safe integers or bigints`,
        )
      }
      const other = owner.get(text)
      if (other !== undefined)
        check.fail(`map.lists lists the key ${JSON.stringify(text)} under both ${other} and ${shard}`)
      owner.set(text, shard)
    }
  }
  const fallback = options.default === undefined ? undefined : known('map.default', options.default, shards)
  if (owner.size === 0 && fallback === undefined)
    check.fail('map.lists must list at least one key (or set map.default)')
  const used = [...new Set([...owner.values(), ...(fallback === undefined ? [] : [fallback])])]
  return {
    strategy: 'list',
    shards: shards.filter((s) => used.includes(s)),
    shardOf: (key) => {
      const shard = owner.get(canonicalKey(key)) ?? fallback
      if (shard === undefined)
        throw new DbNoShardError('the key is in no list of the shard map, and it has no default')
      return shard
    },
    bucketOf: () => undefined,
    shardOfBucket: noBuckets,
  }
}

function noBuckets(): never {
  throw new DbRouterArgumentError('range and list maps have no buckets')
}
