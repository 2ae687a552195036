import {
  type Checks,
  createChecks,
  describeValue,
  type Duration,
  type Logger,
  onlyKnownOptions,
  type RedisClient,
} from '@scalekit/internal'
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
   * `maxEntries` is at most 1 000 000: lru-cache allocates its index for all of them up front
   * (about 36 bytes each), so a huge bound would take the heap at construction.
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
  /** Circuit breaker over Redis (opossum's options and semantics): while it is open no call waits on Redis at all. */
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

/** Every option `createCache` takes: any other name (a typo such as `ttL`) is refused, never ignored. */
const OPTION_NAMES: readonly (keyof CacheOptions)[] = [
  'namespace',
  'l1',
  'redis',
  'ttl',
  'grace',
  'negativeTtl',
  'jitter',
  'timeout',
  'lockLease',
  'earlyRefreshBeta',
  'maxValueBytes',
  'codec',
  'encryption',
  'bus',
  'breaker',
  'tagRetention',
  'logger',
]
/** lru-cache allocates its index for `max` entries at construction (about 36 bytes each): 2³¹ would take the heap. */
const MAX_L1_ENTRIES = 1_000_000
const L1_NAMES: readonly string[] = ['maxEntries', 'maxBytes']
const BREAKER_NAMES: readonly string[] = ['errorThresholdPercentage', 'resetTimeout', 'volumeThreshold']
const SET_NAMES: readonly string[] = ['ttl', 'grace', 'tags']
const GET_OR_SET_NAMES: readonly string[] = [...SET_NAMES, 'softTimeout', 'hardTimeout', 'negativeTtl']

/** Longest tag and most tags per entry: past these a tag list is a mistake (a value used as a tag), and costs every read. */
export const MAX_TAG_LENGTH = 1024
export const MAX_TAGS_PER_ENTRY = 1024

/** A function-valued member, named in the error when missing. */
function hasFunction(value: object, name: string): boolean {
  return typeof (value as Record<string, unknown>)[name] === 'function'
}

/** `codec`: an object with a `name` and `encode`/`decode` functions, so a bad one fails here, not on the first write. */
function checkCodec(value: unknown): Codec | undefined {
  if (value === undefined) return undefined
  const codec = check.group<Codec>('codec', value as Codec)
  if (typeof codec.name !== 'string' || codec.name === '')
    check.fail(`codec.name must be a non-empty string, got ${describeValue(codec.name)}`)
  for (const fn of ['encode', 'decode'])
    if (!hasFunction(codec, fn))
      check.fail(
        `codec.${fn} must be a function, got ${describeValue((codec as Record<string, unknown>)[fn])}`,
      )
  return value as Codec
}

/** `logger`: pino's shape — at least `warn`; `error`, `info`, `debug` are functions when present. */
function checkLogger(value: unknown): Logger | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null)
    check.fail(
      `logger must be an object with a warn(obj, msg) method (pino, console…), got ${describeValue(value)}`,
    )
  if (!hasFunction(value, 'warn')) check.fail('logger must have a warn(obj, msg) method (pino, console…)')
  for (const fn of ['error', 'info', 'debug']) {
    const member = (value as Record<string, unknown>)[fn]
    if (member !== undefined && typeof member !== 'function')
      check.fail(`logger.${fn} must be a function when present, got ${describeValue(member)}`)
  }
  return value as Logger
}

/** `encryption`'s shape (`{ keys: [{ id, key }, …] }`); the keys themselves are checked by `createEncryption`. */
function checkEncryption(value: unknown): EncryptionOptions | undefined {
  if (value === undefined) return undefined
  const encryption = check.group<EncryptionOptions>('encryption', value as EncryptionOptions)
  onlyKnownOptions(check, 'encryption', encryption, ['keys'])
  const { keys } = encryption
  if (!Array.isArray(keys) || keys.length === 0)
    check.fail(`encryption.keys must be a non-empty array of { id, key }, got ${describeValue(keys)}`)
  keys.forEach((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      check.fail(`encryption.keys[${i}] must be an object { id, key }, got ${describeValue(entry)}`)
    const { key } = entry as { key?: unknown }
    if (typeof key !== 'string' && !(key instanceof Uint8Array))
      check.fail(
        `encryption.keys[${i}].key must be a string (hex, base64) or a Uint8Array, got ${describeValue(key)}`,
      )
  })
  return value as EncryptionOptions
}

/** The options that are objects the cache uses as they are (checked for shape here, once). */
export interface CheckedParts {
  readonly codec: Codec | undefined
  readonly logger: Logger | undefined
  readonly encryption: EncryptionOptions | undefined
}

/** Checks the option names and the shape of `codec`, `logger` and `encryption`; throws `CacheOptionsError` naming the option. */
export function checkParts(options: CacheOptions): CheckedParts {
  const o = check.group('createCache options', options)
  onlyKnownOptions(check, '', o, OPTION_NAMES)
  return {
    codec: checkCodec(o.codec),
    logger: checkLogger(o.logger),
    encryption: checkEncryption(o.encryption),
  }
}

/** Applies defaults and validates, once, at construction; throws `CacheOptionsError` naming the option. */
export function resolveOptions(options: CacheOptions): ResolvedOptions {
  const o = check.group('createCache options', options)
  onlyKnownOptions(check, '', o, OPTION_NAMES)
  const { namespace } = o
  if (typeof namespace !== 'string' || !/^[\w.-]{1,64}$/.test(namespace)) {
    check.fail(
      `namespace must be 1-64 characters of [A-Za-z0-9_.-] (no colon: it separates the namespace from keys), got ${describeValue(namespace)}`,
    )
  }
  const l1 = o.l1 === false ? undefined : check.group('l1', o.l1)
  if (l1 !== undefined) onlyKnownOptions(check, 'l1', l1, L1_NAMES)
  const breaker = check.group('breaker', o.breaker)
  onlyKnownOptions(check, 'breaker', breaker, BREAKER_NAMES)
  return {
    namespace,
    l1:
      l1 === undefined
        ? false
        : {
            maxEntries: check.integer('l1.maxEntries', l1.maxEntries, defaults.l1.maxEntries, {
              min: 1,
              max: MAX_L1_ENTRIES,
            }),
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

/** The tags of one call, checked: an array of non-empty, well-formed strings of bounded length and count. */
export function checkTags(
  checks: Checks,
  name: string,
  value: unknown,
  maxCount: number = Number.POSITIVE_INFINITY,
): readonly string[] {
  if (!Array.isArray(value)) checks.fail(`${name} must be an array of strings, got ${describeValue(value)}`)
  const tags = value as readonly unknown[]
  if (tags.length > maxCount) checks.fail(`${name} may hold at most ${maxCount} tags, got ${tags.length}`)
  tags.forEach((tag, i) => {
    if (typeof tag !== 'string' || tag === '' || tag.length > MAX_TAG_LENGTH)
      checks.fail(
        `${name}[${i}] must be a non-empty string of at most ${MAX_TAG_LENGTH} characters, got ${describeValue(tag)}`,
      )
    // Redis stores UTF-8: two different lone surrogates would become one tag there.
    if (!isWellFormed(tag)) checks.fail(`${name}[${i}] is not well-formed UTF-16 (it holds a lone surrogate)`)
  })
  return tags as readonly string[]
}

/**
 * Resolves a call's options once, at its entry: defaults, durations in ms, tags checked, unknown
 * names refused (`set`/`writeThrough` take `ttl`, `grace`, `tags`; `getOrSet` also the timeouts and
 * `negativeTtl`). Throws `CacheArgumentError` (before any Redis call) naming the option.
 */
export function resolveCall(
  o: ResolvedOptions,
  options: GetOrSetOptions,
  kind: 'set' | 'getOrSet' = 'getOrSet',
): CallOptions {
  const given = argument.group('options', options)
  onlyKnownOptions(argument, 'options', given, kind === 'set' ? SET_NAMES : GET_OR_SET_NAMES)
  const ttl = argument.duration('options.ttl', given.ttl, o.ttl)
  const grace = argument.duration('options.grace', given.grace, o.grace)
  const tags =
    given.tags === undefined ? [] : checkTags(argument, 'options.tags', given.tags, MAX_TAGS_PER_ENTRY)
  if (tags.length > 0 && ttl + grace > o.tagRetention) {
    argument.fail(
      `a tagged entry may not live (options.ttl + options.grace = ${ttl + grace} ms) longer than tagRetention (${o.tagRetention} ms)`,
    )
  }
  return {
    ttl,
    grace,
    tags,
    softTimeout:
      given.softTimeout === undefined
        ? undefined
        : argument.duration('options.softTimeout', given.softTimeout, 0),
    hardTimeout:
      given.hardTimeout === undefined
        ? undefined
        : argument.duration('options.hardTimeout', given.hardTimeout, 0),
    negativeTtl: argument.duration('options.negativeTtl', given.negativeTtl, o.negativeTtl),
  }
}

/** The checks that throw `CacheArgumentError`, for per-call checks outside this module. */
export const argumentChecks: Checks = argument
