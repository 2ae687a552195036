import type { CacheOutcome, CacheTier } from './channels'
import type { Codec } from './codec'
import { CacheValueTooLargeError } from './errors'
import type { L1, L1Entry } from './l1'
import type { WriteInput } from './l2/entry'
import type { CallOptions, ResolvedOptions } from './options'

/** A value ready for the tiers. */
export interface Encoded {
  /** What L1 keeps: the value after a codec round trip, so every tier answers with the same shape. */
  readonly value: unknown
  /** What Redis keeps (encrypted when encryption is on). */
  readonly data: string
  readonly size: number
}

/** How long one written value lives: its TTL (jittered), grace and tags. */
export interface Lifetime {
  readonly ttl: number
  readonly grace: number
  readonly tags: readonly string[]
}

/** How an entry was written (beyond its value): what a refresh passes to stay safe. */
export type WriteMeta = Pick<WriteInput, 'delta' | 'expectedVer' | 'created' | 'lockToken'>

/** Where a read's answer came from, for the tracing channel (a `CacheGetContext` is one). */
export interface Marks {
  tier?: CacheTier | undefined
  outcome?: CacheOutcome | undefined
}

/** Records where an answer came from and returns it. */
export function answered<T>(marks: Marks, tier: CacheTier, outcome: CacheOutcome, value: T): T {
  marks.tier = tier
  marks.outcome = outcome
  return value
}

/**
 * The cache's storage, chosen once at construction: L1 alone ({@link MemoryTiers}) or L1 in front
 * of Redis (`TwoTiers`). The cache and the loader call this and never ask which one it is.
 */
export interface Tiers {
  /** The in-process tier; undefined when `l1: false`. */
  readonly l1: L1 | undefined
  /** The lifetime of a value a call writes (`negative`: a `null`/`undefined` factory result). */
  lifetime(call: CallOptions, negative: boolean): Lifetime
  /** Encodes (and encrypts for Redis) once for every tier; throws on a value too large or unencodable. */
  encode(key: string, value: unknown): Encoded
  /** True when the L1 entry of `key` may be served as fresh now (without waiting on another tier). */
  isFresh(entry: L1Entry, key?: string): boolean
  /** `get()` past an L1 entry that may not be served: the fresh value from the other tier, if any. */
  read(key: string, local: L1Entry | undefined, marks: Marks): Promise<unknown>
  /** Writes every tier (Redis conditionally, for refreshes); rethrows a Redis failure after dropping the L1 copy. */
  store(key: string, encoded: Encoded, lifetime: Lifetime, meta: WriteMeta): Promise<void>
  /** Keeps a value in L1 only: the factory's result while Redis is away (or absent). */
  storeLocal(key: string, encoded: Encoded, lifetime: Lifetime, delta: number): void
  delete(key: string): Promise<void>
  invalidateTags(tags: readonly string[]): Promise<void>
  clear(): Promise<void>
}

/**
 * The lifetime of a value written by a call: a `negative` one lives `negativeTtl`; any other the
 * call's TTL, shortened by a random share up to `jitter` so keys set together do not expire together.
 */
export function lifetimeOf(o: ResolvedOptions, call: CallOptions, negative: boolean): Lifetime {
  if (negative) return { ttl: call.negativeTtl, grace: call.grace, tags: call.tags }
  const ttl = o.jitter > 0 ? Math.max(1, Math.round(call.ttl * (1 - o.jitter * Math.random()))) : call.ttl
  return { ttl, grace: call.grace, tags: call.tags }
}

/** The codec's text of `value`, refused when larger than `maxValueBytes`. */
export function encodeText(o: ResolvedOptions, codec: Codec, value: unknown): { text: string; size: number } {
  const text = codec.encode(value)
  const size = Buffer.byteLength(text)
  if (size > o.maxValueBytes) {
    throw new CacheValueTooLargeError(`value of ${size} bytes exceeds maxValueBytes (${o.maxValueBytes})`)
  }
  return { text, size }
}

/** An L1 entry for a value written now (or at `base`, the moment a Redis write was sent). */
export function entryOf(
  encoded: Encoded,
  e: { ver: number; created: number; lifetime: Lifetime; delta: number; epoch: number; base?: number },
): L1Entry {
  const base = e.base ?? Date.now()
  return {
    value: encoded.value,
    ver: e.ver,
    created: e.created,
    freshUntil: base + e.lifetime.ttl,
    staleUntil: base + e.lifetime.ttl + e.lifetime.grace,
    tags: e.lifetime.tags,
    delta: e.delta,
    epoch: e.epoch,
    size: encoded.size,
  }
}
