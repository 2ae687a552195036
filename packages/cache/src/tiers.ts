import type { Codec } from './codec'
import type { Coherence } from './coherence'
import type { Encryption } from './encryption'
import { CacheUnavailableError, CacheValueTooLargeError } from './errors'
import type { Trouble } from './internal/events'
import type { L1, L1Entry } from './l1'
import type { StoredEntry, WriteInput } from './l2/entry'
import type { RedisTier } from './l2/tier'
import type { CallOptions, ResolvedOptions } from './options'

/** A value ready for both tiers. */
export interface Encoded {
  /** What L1 keeps: the value after a codec round trip, so both tiers answer with the same shape. */
  value: unknown
  /** What Redis keeps (encrypted when encryption is on). */
  data: string
  size: number
}

/** How long one written value lives: its TTL (jittered), grace and tags. */
export interface Lifetime {
  readonly ttl: number
  readonly grace: number
  readonly tags: readonly string[]
}

/** How an entry was written (beyond its value): what a refresh passes to stay safe. */
export type WriteMeta = Pick<WriteInput, 'delta' | 'expectedVer' | 'created' | 'lockToken'>

/**
 * The two tiers as one store: encodes once for both, writes Redis then L1, turns Redis entries
 * into L1 entries (decrypting, decoding, checking tags), and keeps L1 out of Redis's way when a
 * write fails.
 */
export class Tiers {
  readonly l1: L1 | undefined
  readonly l2: RedisTier | undefined
  readonly #o: ResolvedOptions
  readonly #codec: Codec
  readonly #encryption: Encryption | undefined
  readonly #coherence: Coherence
  readonly #trouble: Trouble

  constructor(deps: {
    options: ResolvedOptions
    codec: Codec
    encryption: Encryption | undefined
    l1: L1 | undefined
    l2: RedisTier | undefined
    coherence: Coherence
    trouble: Trouble
  }) {
    this.#o = deps.options
    this.#codec = deps.codec
    this.#encryption = deps.encryption
    this.l1 = deps.l1
    this.l2 = deps.l2
    this.#coherence = deps.coherence
    this.#trouble = deps.trouble
  }

  /**
   * The lifetime of a value written by a call: a `negative` one (a `null`/`undefined` factory
   * result) lives `negativeTtl`; any other the call's TTL, shortened by a random share up to
   * `jitter` so keys set together do not expire together.
   */
  lifetime(call: CallOptions, negative: boolean): Lifetime {
    if (negative) return { ttl: call.negativeTtl, grace: call.grace, tags: call.tags }
    const { jitter } = this.#o
    const ttl = jitter > 0 ? Math.max(1, Math.round(call.ttl * (1 - jitter * Math.random()))) : call.ttl
    return { ttl, grace: call.grace, tags: call.tags }
  }

  encode(key: string, value: unknown): Encoded {
    const text = this.#codec.encode(value)
    const size = Buffer.byteLength(text)
    if (size > this.#o.maxValueBytes) {
      throw new CacheValueTooLargeError(
        `value of ${size} bytes exceeds maxValueBytes (${this.#o.maxValueBytes})`,
      )
    }
    const data =
      this.#encryption === undefined || this.l2 === undefined
        ? text
        : this.#encryption.encrypt(text, this.l2.entryKey(key))
    return { value: this.l1 === undefined ? value : this.#codec.decode(text), data, size }
  }

  /**
   * Writes Redis (conditionally, for refreshes), then L1. When Redis fails, the key leaves L1 and is
   * marked for deletion in Redis once it is back; the error is rethrown.
   */
  async store(key: string, encoded: Encoded, r: Lifetime, meta: WriteMeta): Promise<void> {
    if (this.l2 === undefined) {
      this.l1?.set(
        key,
        this.entry(encoded, {
          ver: 0,
          created: Date.now(),
          r,
          delta: meta.delta,
          epoch: this.#coherence.epoch,
        }),
      )
      return
    }
    const sentAt = Date.now()
    let result
    try {
      result = await this.l2.write(key, {
        data: encoded.data,
        ttl: r.ttl,
        grace: r.grace,
        tags: r.tags,
        ...meta,
      })
    } catch (error) {
      this.l1?.delete(key)
      this.markFailed(key, error)
      throw error
    }
    if (!result.written) return
    // Redis's clock decided expiry; in ours it started no later than when we sent the write.
    this.l1?.set(
      key,
      this.entry(encoded, {
        ver: result.ver,
        created: meta.created ?? result.now,
        r,
        delta: meta.delta,
        epoch: this.#coherence.epoch,
        base: sentAt,
      }),
    )
    this.#coherence.wake(key)
  }

  /** Keeps a value in L1 only (no Redis, or Redis away: epoch 0 makes it re-checked once Redis is back). */
  storeLocal(key: string, encoded: Encoded, r: Lifetime, delta: number): void {
    const epoch = this.l2 === undefined ? this.#coherence.epoch : 0
    this.l1?.set(key, this.entry(encoded, { ver: 0, created: Date.now(), r, delta, epoch }))
  }

  /** Decodes an entry read from Redis, drops it if a tag was invalidated after it, and refreshes L1. */
  async fromStored(
    key: string,
    stored: StoredEntry | undefined,
    redisNow: number,
  ): Promise<L1Entry | undefined> {
    const l2 = this.l2
    if (stored === undefined || l2 === undefined) return undefined
    let value: unknown
    let size: number
    try {
      const text =
        this.#encryption === undefined ? stored.data : this.#encryption.decrypt(stored.data, l2.entryKey(key))
      value = this.#codec.decode(text)
      size = text.length
    } catch (error) {
      this.#trouble.undecodable(error)
      return undefined
    }
    const shift = Date.now() - redisNow
    const entry: L1Entry = {
      value,
      ver: stored.ver,
      created: stored.created,
      freshUntil: stored.expiresAt + shift,
      staleUntil: stored.staleUntil + shift,
      tags: stored.tags,
      delta: stored.delta,
      epoch: this.#coherence.epoch,
      size,
    }
    if (entry.tags.length > 0) {
      let valid = this.#coherence.tagsValid(entry, false)
      if (valid === undefined) {
        const times = await l2.tagTimes(entry.tags)
        this.#coherence.learnTags(entry.tags, times)
        valid = times.every((t) => t < entry.created)
      }
      if (!valid) return undefined
    }
    this.l1?.set(key, entry)
    return entry
  }

  /** True when an L1 entry may be served as fresh now. */
  isFresh(entry: L1Entry): boolean {
    return (
      Date.now() < entry.freshUntil &&
      this.#coherence.trusted(entry) &&
      this.#coherence.tagsValid(entry, this.l2 === undefined) === true
    )
  }

  markFailed(key: string, error: unknown): void {
    if (error instanceof CacheUnavailableError) this.#coherence.markDirty(key)
    this.#trouble.l2(error)
  }

  entry(
    encoded: Encoded,
    e: { ver: number; created: number; r: Lifetime; delta: number; epoch: number; base?: number },
  ): L1Entry {
    const base = e.base ?? Date.now()
    return {
      value: encoded.value,
      ver: e.ver,
      created: e.created,
      freshUntil: base + e.r.ttl,
      staleUntil: base + e.r.ttl + e.r.grace,
      tags: e.r.tags,
      delta: e.delta,
      epoch: e.epoch,
      size: encoded.size,
    }
  }
}
