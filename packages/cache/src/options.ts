import type { Cluster, Redis } from 'ioredis'
import type { Codec } from './codec'
import type { EncryptionOptions } from './encryption'
import { CacheOptionsError } from './errors'
import { type Duration, toMs } from './internal/duration'

/** An ioredis client (standalone or Cluster), or a `redis://` / `rediss://` URL. */
export type RedisInput = Redis | Cluster | string

/** Options of {@link createCache}. Durations are ms or strings such as `'5m'`. */
export interface CacheOptions {
  /** Key prefix and metrics label; letters, digits, `_`, `-`, `.` only (a colon would let two namespaces share keys). Required. */
  namespace: string
  /** In-process L1 (lru-cache). `false` turns it off. @default `{ maxEntries: 10_000, maxBytes: 64 MiB }` */
  l1?: false | { maxEntries?: number; maxBytes?: number }
  /** Redis L2: an ioredis client or Cluster (never closed by the cache), or a URL (the cache owns that client). Omit for memory only. */
  redis?: RedisInput
  /** Default time a value is fresh. @default 60_000 */
  ttl?: Duration
  /** Default time a value may still be served after its TTL while the factory fails or is slow. @default 0 */
  grace?: Duration
  /** TTL of cached `null`/`undefined` factory results. @default 5_000 */
  negativeTtl?: Duration
  /** Each TTL is shortened by a random fraction up to this, so keys set together do not expire together. @default 0.1 */
  jitter?: number
  /** Upper bound of every Redis call; past it the call counts as failed and the cache answers without Redis. @default 250 */
  timeout?: Duration
  /** Lease of the cross-instance stampede lock, renewed while the factory runs; a holder that dies blocks others no longer than this. @default 5_000 */
  lockLease?: Duration
  /** XFetch early refresh: higher refreshes earlier; `0` turns it off. @default 1 */
  earlyRefreshBeta?: number
  /** Largest encoded value accepted; larger ones are refused with `ERR_CACHE_VALUE_TOO_LARGE`. @default 1 MiB */
  maxValueBytes?: number
  /** Value codec for both tiers. @default jsonCodec (Date, BigInt, Map, Set, undefined…) */
  codec?: Codec
  /** AES-256-GCM encryption of values at rest in Redis, with key rotation. @default off */
  encryption?: EncryptionOptions
  /** Cross-instance L1 invalidation over Redis pub/sub. @default true when both tiers are on */
  bus?: boolean
  /** Circuit breaker over Redis (opossum). */
  breaker?: { errorThresholdPercentage?: number; resetTimeout?: Duration; volumeThreshold?: number }
  /** How long tag invalidations are remembered; a tagged entry may not live (ttl + grace) longer. @default '1d' */
  tagRetention?: Duration
}

/** Per-call options of `set`, shared by `getOrSet`. */
export interface SetOptions {
  /** @default the cache's `ttl` */
  ttl?: Duration
  /** @default the cache's `grace` */
  grace?: Duration
  /** Tags for {@link Cache.invalidateTags}. */
  tags?: readonly string[]
}

/** Per-call options of `getOrSet`. */
export interface GetOrSetOptions extends SetOptions {
  /** After this, answer with the stale value (if any) and let the refresh finish in the background. @default off */
  softTimeout?: Duration
  /** After this, reject with `ERR_CACHE_FACTORY_TIMEOUT` unless a stale value can be served. @default off */
  hardTimeout?: Duration
  /** @default the cache's `negativeTtl` */
  negativeTtl?: Duration
}

/** The options after defaults and validation; durations in ms. */
export interface ResolvedOptions {
  namespace: string
  l1: false | { maxEntries: number; maxBytes: number }
  ttl: number
  grace: number
  negativeTtl: number
  jitter: number
  timeout: number
  lockLease: number
  earlyRefreshBeta: number
  maxValueBytes: number
  bus: boolean
  breaker: { errorThresholdPercentage: number; resetTimeout: number; volumeThreshold: number }
  tagRetention: number
}

/** Every default in one place. */
export const defaults: {
  readonly l1: { readonly maxEntries: number; readonly maxBytes: number }
  readonly ttl: number
  readonly grace: number
  readonly negativeTtl: number
  readonly jitter: number
  readonly timeout: number
  readonly lockLease: number
  readonly earlyRefreshBeta: number
  readonly maxValueBytes: number
  readonly breaker: { readonly errorThresholdPercentage: number; readonly resetTimeout: number; readonly volumeThreshold: number }
  readonly tagRetention: number
} = {
  l1: { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 },
  ttl: 60_000,
  grace: 0,
  negativeTtl: 5_000,
  jitter: 0.1,
  timeout: 250,
  lockLease: 5_000,
  earlyRefreshBeta: 1,
  maxValueBytes: 1024 * 1024,
  breaker: { errorThresholdPercentage: 50, resetTimeout: 2_000, volumeThreshold: 5 },
  tagRetention: 86_400_000,
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback
  if (!Number.isInteger(v) || v <= 0) throw new CacheOptionsError(`${name} must be a positive integer, got ${String(v)}`)
  return v
}

/** Applies defaults and validates; throws `CacheOptionsError` naming the option. */
export function resolveOptions(options: CacheOptions): ResolvedOptions {
  if (typeof options !== 'object') throw new CacheOptionsError('createCache needs an options object')
  const { namespace } = options
  if (typeof namespace !== 'string' || !/^[\w.-]{1,64}$/.test(namespace)) {
    throw new CacheOptionsError(`namespace must be 1-64 characters of [A-Za-z0-9_.-] (no colon: it separates the namespace from keys), got ${JSON.stringify(namespace)}`)
  }
  const jitter = options.jitter ?? defaults.jitter
  if (!(jitter >= 0 && jitter < 1)) throw new CacheOptionsError(`jitter must be in [0, 1), got ${String(jitter)}`)
  const beta = options.earlyRefreshBeta ?? defaults.earlyRefreshBeta
  if (!(beta >= 0 && Number.isFinite(beta))) throw new CacheOptionsError(`earlyRefreshBeta must be >= 0, got ${String(beta)}`)
  const b = options.breaker ?? {}
  const threshold = b.errorThresholdPercentage ?? defaults.breaker.errorThresholdPercentage
  if (!(threshold > 0 && threshold <= 100)) throw new CacheOptionsError('breaker.errorThresholdPercentage must be in (0, 100]')
  const l1 = options.l1 === false ? false : {
    maxEntries: positiveInt(options.l1?.maxEntries, defaults.l1.maxEntries, 'l1.maxEntries'),
    maxBytes: positiveInt(options.l1?.maxBytes, defaults.l1.maxBytes, 'l1.maxBytes'),
  }
  const timeout = toMs(options.timeout ?? defaults.timeout, 'timeout')
  if (timeout === 0) throw new CacheOptionsError('timeout must be greater than 0')
  const lockLease = toMs(options.lockLease ?? defaults.lockLease, 'lockLease')
  if (lockLease < 100) throw new CacheOptionsError('lockLease must be at least 100 ms')
  return {
    namespace,
    l1,
    ttl: toMs(options.ttl ?? defaults.ttl, 'ttl'),
    grace: toMs(options.grace ?? defaults.grace, 'grace'),
    negativeTtl: toMs(options.negativeTtl ?? defaults.negativeTtl, 'negativeTtl'),
    jitter,
    timeout,
    lockLease,
    earlyRefreshBeta: beta,
    maxValueBytes: positiveInt(options.maxValueBytes, defaults.maxValueBytes, 'maxValueBytes'),
    bus: options.bus ?? true,
    breaker: {
      errorThresholdPercentage: threshold,
      resetTimeout: toMs(b.resetTimeout ?? defaults.breaker.resetTimeout, 'breaker.resetTimeout'),
      volumeThreshold: positiveInt(b.volumeThreshold, defaults.breaker.volumeThreshold, 'breaker.volumeThreshold'),
    },
    tagRetention: toMs(options.tagRetention ?? defaults.tagRetention, 'tagRetention'),
  }
}
