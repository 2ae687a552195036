import type { Codec } from '../codec'
import type { Coherence } from '../coherence'
import type { Encryption } from '../encryption'
import { CacheUnavailableError } from '../errors'
import type { Trouble } from '../internal/events'
import type { L1, L1Entry } from '../l1'
import type { CallOptions, ResolvedOptions } from '../options'
import {
  answered,
  type Encoded,
  encodeText,
  entryOf,
  type Lifetime,
  lifetimeOf,
  type Marks,
  type Tiers,
  type WriteMeta,
} from '../tiers'
import { openEntry, RedisClock, sealEntry, type StoredEntry } from './entry'
import { type RedisTier, TAGS_PER_SCRIPT } from './tier'

/**
 * A cache's storage with Redis: L1 (optional) in front of Redis, shared by every instance. Encodes
 * once for both tiers, writes Redis then L1, turns Redis entries into L1 entries (decrypting,
 * decoding, checking tags), and keeps L1 out of Redis's way when a write fails: the key leaves L1
 * and is deleted from Redis once it answers again.
 */
export class TwoTiers implements Tiers {
  readonly l1: L1 | undefined
  readonly l2: RedisTier
  readonly #o: ResolvedOptions
  readonly #codec: Codec
  readonly #encryption: Encryption | undefined
  readonly #coherence: Coherence
  readonly #trouble: Trouble
  #probing = false
  readonly #clock = new RedisClock()

  constructor(deps: {
    options: ResolvedOptions
    codec: Codec
    encryption: Encryption | undefined
    l1: L1 | undefined
    l2: RedisTier
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

  lifetime(call: CallOptions, negative: boolean): Lifetime {
    return lifetimeOf(this.#o, call, negative)
  }

  /** With encryption, `data` stays the codec's text until `store` seals it with the header it writes. */
  encode(_key: string, value: unknown): Encoded {
    const { text, size } = encodeText(this.#o, this.#codec, value)
    return { value: this.l1 === undefined ? value : this.#codec.decode(text), data: text, size }
  }

  /**
   * True when an L1 entry may be served without asking Redis: fresh, and either verified (the bus
   * has been subscribed since it was checked, its tags are known valid) or unverifiable because
   * Redis is known down — an L1 hit never waits on Redis's timeout. In that case one read of the
   * key goes to Redis in the background (one at a time), so the cache notices when Redis is back.
   */
  isFresh(entry: L1Entry, key?: string): boolean {
    if (Date.now() >= entry.freshUntil) return false
    if (this.#coherence.trusted(entry)) {
      const valid = this.#coherence.tagsValid(entry, false)
      if (valid !== undefined) return valid
    }
    if (!this.l2.remote.down || this.#coherence.tagsValid(entry, true) !== true) return false
    if (key !== undefined) this.#probe(key)
    return true
  }

  /** One background read at a time while Redis is down: its answer (or failure) updates what we know. */
  #probe(key: string): void {
    if (this.#probing) return
    this.#probing = true
    this.l2
      .peek(key)
      .then((read) => this.fromStored(key, read.entry, read.now))
      .catch(() => undefined)
      .finally(() => {
        this.#probing = false
      })
  }

  async read(key: string, local: L1Entry | undefined, marks: Marks): Promise<unknown> {
    try {
      const read = await this.l2.peek(key)
      const entry = await this.fromStored(key, read.entry, read.now)
      if (entry !== undefined && Date.now() < entry.freshUntil)
        return answered(marks, 'l2', 'hit', entry.value)
      marks.tier = 'l2'
      marks.outcome = 'miss'
      return undefined
    } catch (error) {
      if (!(error instanceof CacheUnavailableError)) throw error
      // Redis is away: a fresh L1 copy is the best answer there is, even from an older bus epoch.
      const usable =
        local !== undefined &&
        Date.now() < local.freshUntil &&
        this.#coherence.tagsValid(local, true) === true
      return usable ? answered(marks, 'l1', 'hit', local.value) : undefined
    }
  }

  async store(key: string, encoded: Encoded, lifetime: Lifetime, meta: WriteMeta): Promise<void> {
    const sentAt = Date.now()
    const data =
      this.#encryption === undefined
        ? encoded.data
        : sealEntry(
            this.#encryption,
            this.l2.entryKey(key),
            this.#codec.name,
            this.#clock.now(),
            encoded.data,
            {
              ...lifetime,
              delta: meta.delta,
              created: meta.created,
            },
          )
    let result
    try {
      result = await this.l2.write(key, {
        data,
        ttl: lifetime.ttl,
        grace: lifetime.grace,
        tags: lifetime.tags,
        ...meta,
      })
    } catch (error) {
      this.l1?.delete(key)
      this.markFailed(key, error)
      throw error
    }
    this.#clock.learn(result.now)
    if (!result.written) return
    // Redis's clock decided expiry; in ours it started no later than when we sent the write.
    const created = meta.created ?? result.now
    this.l1?.set(
      key,
      entryOf(encoded, {
        ver: result.ver,
        created,
        lifetime,
        delta: meta.delta,
        epoch: this.#coherence.epoch,
        base: sentAt,
      }),
    )
    this.#coherence.wake(key)
  }

  /** Redis is away: epoch 0 makes the entry re-checked against Redis once it is back. */
  storeLocal(key: string, encoded: Encoded, lifetime: Lifetime, delta: number): void {
    this.l1?.set(key, entryOf(encoded, { ver: 0, created: Date.now(), lifetime, delta, epoch: 0 }))
  }

  async delete(key: string): Promise<void> {
    this.l1?.delete(key)
    try {
      await this.l2.delete(key)
    } catch (error) {
      this.markFailed(key, error)
      throw error
    }
  }

  /**
   * Invalidates tags in chunks, one script each that records and announces its chunk, so whatever
   * was applied was also announced when a later chunk fails (the caller then gets the error).
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    for (let start = 0; start < tags.length; start += TAGS_PER_SCRIPT) {
      const chunk = tags.slice(start, start + TAGS_PER_SCRIPT)
      this.#coherence.noteTags(chunk, await this.l2.invalidateTags(chunk))
    }
  }

  async clear(): Promise<void> {
    this.l1?.clear()
    await this.l2.clear()
  }

  /** Decodes an entry read from Redis, drops it if a tag was invalidated after it, and refreshes L1. */
  async fromStored(
    key: string,
    stored: StoredEntry | undefined,
    redisNow: number,
  ): Promise<L1Entry | undefined> {
    this.#clock.learn(redisNow)
    if (stored === undefined) return undefined
    let value: unknown
    let size: number
    try {
      const redisKey = this.l2.entryKey(key)
      const text = openEntry(stored, redisKey, this.#codec.name, this.#o.maxValueBytes, this.#encryption)
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
        const times = await this.l2.tagTimes(entry.tags)
        this.#coherence.learnTags(entry.tags, times)
        valid = times.every((t) => t < entry.created)
      }
      if (!valid) return undefined
    }
    this.l1?.set(key, entry)
    return entry
  }

  /** Redis answers again (the breaker closed): re-check L1 against it, and delete what could not be updated. */
  onRedisBack(): void {
    for (const key of this.#coherence.onRedisBack()) {
      this.l2.delete(key).catch((error: unknown) => {
        this.markFailed(key, error)
      })
    }
  }

  /** A Redis write failed: report it, and when Redis was away, delete the key there once it is back. */
  markFailed(key: string, error: unknown): void {
    if (error instanceof CacheUnavailableError) this.#coherence.markDirty(key)
    this.#trouble.l2(error)
  }
}
