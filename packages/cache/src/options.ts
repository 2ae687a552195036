import { type Checks, createChecks, type Duration, type Logger, type RedisClient } from '@scalekit/internal'
import type { Codec } from './codec'
import type { EncryptionOptions } from './encryption'
import { CacheArgumentError, CacheOptionsError } from './errors'
import { isWellFormed } from './internal/keys'

/**
 * An ioredis 5 or 6 client (`Redis` or `Cluster`, taken by the members the cache calls, so the
 * app's own copy of ioredis fits), or a `redis://` / `rediss://` URL.
 */
export type RedisInput = RedisClient | string

/** Options of `createCache`. Durations are ms or strings such as `'250ms'`, `'5m'`, `'1d'`. */
export interface CacheOptions {
  /** Key prefix and label of every channel event; letters, digits, `_`, `-`, `.` only (a colon would let two namespaces share keys). Required. */
  namespace: string
  /**
   * In-process L1 (lru-cache). `false` turns it off. Bounded by bytes as well as entries, so a flood
   * of random keys evicts old ones instead of growing the heap.
   * @default { maxEntries: 10_000, maxBytes: 64 MiB }
   */
  l1?: false | { maxEntries?: number; maxBytes?: number }
  /** Redis L2: an ioredis client or Cluster (never closed by the cache), or a URL (the cache owns that client). Omit for memory only. */
  redis?: RedisInput
  /** Default time a value is fresh. @default '1m' */
  ttl?: Duration
  /** Default time a value may still be served after its TTL while the factory fails or is slow. @default 0 (off) */
  grace?: Duration
  /** TTL of cached `null`/`undefined` factory results: short, so a missing row that appears is seen soon. @default '5s' */
  negativeTtl?: Duration
  /** Each TTL is shortened by a random share up to this, in [0, 1], so keys set together do not expire together. @default 0.1 */
  jitter?: number
  /** Upper bound of every Redis call; past it the call counts as failed and the cache answers without Redis. @default '250ms' */
  timeout?: Duration
  /** Lease of the cross-instance stampede lock, renewed while the factory runs; a holder that dies blocks others no longer than this. At least 100 ms. @default '5s' */
  lockLease?: Duration
  /** XFetch early refresh: higher refreshes earlier; `0` turns it off. @default 1 */
  earlyRefreshBeta?: number
  /** Largest encoded value accepted; larger ones are refused with `ERR_CACHE_VALUE_TOO_LARGE`, so one huge value cannot evict a whole L1. @default 1 MiB */
  maxValueBytes?: number
  /** Value codec for both tiers. @default jsonCodec (Date, BigInt, Map, Set, undefined…) */
  codec?: Codec
  /** AES-256-GCM encryption of values at rest in Redis, with key rotation. @default off */
  encryption?: EncryptionOptions
  /** Cross-instance L1 invalidation over Redis pub/sub: without it another instance's write is seen only when the L1 copy expires. @default true (used when both tiers are on) */
  bus?: boolean
  /** Circuit breaker over Redis (opossum): while it is open no call waits on Redis at all. */
  breaker?: {
    /** Share of failed calls in the rolling 10 s window that opens it, in (0, 100]. @default 50 */
    errorThresholdPercentage?: number
    /** How long it stays open before one trial call. @default '2s' */
    resetTimeout?: Duration
    /** Calls in the window before it may open, so one early failure does not. @default 5 */
    volumeThreshold?: number
  }
  /** How long tag invalidations are remembered; a tagged entry may not live (ttl + grace) longer. @default '1d' */
  tagRetention?: Duration
  /** Where trouble is reported (Redis away, undecodable entries): one warning per episode per minute, never keys or values. @default Node's process warnings */
  logger?: Logger
}

/** Per-call options of `set`, shared by `getOrSet`. */
export interface SetOptions {
  /** @default the cache's `ttl` */
  ttl?: Duration
  /** @default the cache's `grace` */
  grace?: Duration
  /** Tags for `invalidateTags`. */
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
  readonly namespace: string
  readonly l1: false | { readonly maxEntries: number; readonly maxBytes: number }
  readonly ttl: number
  readonly grace: number
  readonly negativeTtl: number
  readonly jitter: number
  readonly timeout: number
  readonly lockLease: number
  readonly earlyRefreshBeta: number
  readonly maxValueBytes: number
  readonly bus: boolean
  readonly breaker: {
    readonly errorThresholdPercentage: number
    readonly resetTimeout: number
    readonly volumeThreshold: number
  }
  readonly tagRetention: number
}

/** A call's options, resolved once at its entry and handed down: durations in ms (the TTL is jittered per write). */
export interface CallOptions {
  readonly ttl: number
  readonly grace: number
  readonly tags: readonly string[]
  readonly softTimeout: number | undefined
  readonly hardTimeout: number | undefined
  readonly negativeTtl: number
}

/** Every default in one place (durations in ms). */
export const defaults: Omit<ResolvedOptions, 'namespace' | 'l1'> & {
  readonly l1: Exclude<ResolvedOptions['l1'], false>
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
  bus: true,
  breaker: { errorThresholdPercentage: 50, resetTimeout: 2_000, volumeThreshold: 5 },
  tagRetention: 86_400_000,
}

const check: Checks = createChecks(CacheOptionsError)
const argument: Checks = createChecks(CacheArgumentError)

/** Applies defaults and validates, once, at construction; throws `CacheOptionsError` naming the option. */
export function resolveOptions(options: CacheOptions): ResolvedOptions {
  const o = check.group('createCache options', options)
  const { namespace } = o
  if (typeof namespace !== 'string' || !/^[\w.-]{1,64}$/.test(namespace)) {
    check.fail(
      `namespace must be 1-64 characters of [A-Za-z0-9_.-] (no colon: it separates the namespace from keys), got ${JSON.stringify(namespace)}`,
    )
  }
  const l1 = o.l1 === false ? undefined : check.group('l1', o.l1)
  const breaker = check.group('breaker', o.breaker)
  return {
    namespace,
    l1:
      l1 === undefined
        ? false
        : {
            maxEntries: check.integer('l1.maxEntries', l1.maxEntries, defaults.l1.maxEntries, { min: 1 }),
            maxBytes: check.integer('l1.maxBytes', l1.maxBytes, defaults.l1.maxBytes, { min: 1 }),
          },
    ttl: check.duration('ttl', o.ttl, defaults.ttl),
    grace: check.duration('grace', o.grace, defaults.grace),
    negativeTtl: check.duration('negativeTtl', o.negativeTtl, defaults.negativeTtl),
    jitter: check.number('jitter', o.jitter, defaults.jitter, { min: 0, max: 1 }),
    timeout: check.duration('timeout', o.timeout, defaults.timeout, { min: 1 }),
    lockLease: check.duration('lockLease', o.lockLease, defaults.lockLease, { min: 100 }),
    earlyRefreshBeta: check.number('earlyRefreshBeta', o.earlyRefreshBeta, defaults.earlyRefreshBeta, {
      min: 0,
    }),
    maxValueBytes: check.integer('maxValueBytes', o.maxValueBytes, defaults.maxValueBytes, { min: 1 }),
    bus: check.boolean('bus', o.bus, defaults.bus),
    breaker: {
      errorThresholdPercentage: check.number(
        'breaker.errorThresholdPercentage',
        breaker.errorThresholdPercentage,
        defaults.breaker.errorThresholdPercentage,
        { above: 0, max: 100 },
      ),
      resetTimeout: check.duration(
        'breaker.resetTimeout',
        breaker.resetTimeout,
        defaults.breaker.resetTimeout,
      ),
      volumeThreshold: check.integer(
        'breaker.volumeThreshold',
        breaker.volumeThreshold,
        defaults.breaker.volumeThreshold,
        {
          min: 1,
        },
      ),
    },
    tagRetention: check.duration('tagRetention', o.tagRetention, defaults.tagRetention),
  }
}

/**
 * Resolves a call's options once, at its entry: defaults, durations in ms, tags checked. Throws `CacheArgumentError` (before any Redis call) naming the option.
 */
export function resolveCall(o: ResolvedOptions, options: GetOrSetOptions): CallOptions {
  const given = argument.group('options', options)
  const ttl = argument.duration('ttl', given.ttl, o.ttl)
  const grace = argument.duration('grace', given.grace, o.grace)
  const tags = given.tags ?? []
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string' || t === '' || !isWellFormed(t))) {
    argument.fail('tags must be an array of non-empty, well-formed (no lone surrogate) strings')
  }
  if (tags.length > 0 && ttl + grace > o.tagRetention) {
    argument.fail(`a tagged entry may not live (ttl + grace) longer than tagRetention (${o.tagRetention} ms)`)
  }
  return {
    ttl,
    grace,
    tags,
    softTimeout:
      given.softTimeout === undefined ? undefined : argument.duration('softTimeout', given.softTimeout, 0),
    hardTimeout:
      given.hardTimeout === undefined ? undefined : argument.duration('hardTimeout', given.hardTimeout, 0),
    negativeTtl: argument.duration('negativeTtl', given.negativeTtl, o.negativeTtl),
  }
}
