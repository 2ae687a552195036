import { createChecks, describeValue } from '@scalekit/internal'
import { DbRouterArgumentError, DbRouterOptionsError } from '../errors'
import type { ShardKey } from './hash'
import { bucketOf } from './hash'
import { DEFAULT_BUCKETS } from './map'

const check = createChecks(DbRouterOptionsError)

/** Options of {@link createShardIds}. */
export interface ShardIdsOptions {
  /** The shard map's bucket count (a power of two, at most 16384). @default 1024 */
  buckets?: number
  /** This process' number among those generating ids at once (0–31): ids of two generators never collide. */
  worker: number
  /** The time ids count from, in ms since 1970. @default 2024-01-01T00:00:00Z */
  epoch?: number
}

/** Generates 63-bit ids (bigint) that carry the bucket of the key they belong to. */
export interface ShardIds {
  /** A new id in `key`'s bucket: time-ordered per generator, unique across generators with distinct `worker`s. */
  next(key: ShardKey): bigint
  /** The bucket an id was made for: `db.map.shardOfBucket(ids.bucketOf(id))` routes a row by its id alone. */
  bucketOf(id: bigint | string): number
  /** When the id was made (ms since 1970). */
  timeOf(id: bigint | string): number
}

const TIME_BITS = 41n
const WORKER_BITS = 5n

/**
 * Snowflake-style ids: 41 bits of ms since `epoch` (69 years) | the bucket (log2(buckets) bits) |
 * the worker (5 bits) | a sequence (the remaining bits of 63: 7 with 1024 buckets, 128 ids per ms,
 * per bucket, per worker; past that the generator borrows the next ms, so ids stay unique and ordered).
 * As text they fit Postgres `bigint`.
 */
export function createShardIds(options: ShardIdsOptions): ShardIds {
  const given = check.group('options', options)
  const buckets = check.integer('buckets', given.buckets, DEFAULT_BUCKETS, { min: 2, max: 16_384 })
  if ((buckets & (buckets - 1)) !== 0) check.fail(`buckets must be a power of two, got ${buckets}`)
  const worker = BigInt(check.integer('worker', given.worker, -1, { min: 0, max: 31 }))
  const epoch = check.integer('epoch', given.epoch, Date.UTC(2024, 0, 1), { min: 0 })
  const bucketBits = BigInt(Math.log2(buckets))
  const seqBits = 63n - TIME_BITS - bucketBits - WORKER_BITS
  const seqMax = (1n << seqBits) - 1n
  const last = new Map<number, { ms: bigint; seq: bigint }>()
  const parse = (id: bigint | string): bigint => {
    try {
      const v = BigInt(id)
      if (v >= 0n && v < 1n << 63n) return v
    } catch {
      // refused below
    }
    throw new DbRouterArgumentError(`an id is a non-negative 63-bit integer, got ${describeValue(id)}`)
  }
  return {
    next(key) {
      const bucket = bucketOf(key, buckets)
      let ms = BigInt(Date.now() - epoch)
      const prev = last.get(bucket)
      let seq = 0n
      if (prev !== undefined && ms <= prev.ms) {
        ms = prev.ms
        seq = prev.seq + 1n
        if (seq > seqMax) {
          ms += 1n
          seq = 0n
        }
      }
      last.set(bucket, { ms, seq })
      return (((ms << bucketBits) | BigInt(bucket)) << (WORKER_BITS + seqBits)) | (worker << seqBits) | seq
    },
    bucketOf(id) {
      return Number((parse(id) >> (WORKER_BITS + seqBits)) & ((1n << bucketBits) - 1n))
    },
    timeOf(id) {
      return Number(parse(id) >> (bucketBits + WORKER_BITS + seqBits)) + epoch
    },
  }
}
