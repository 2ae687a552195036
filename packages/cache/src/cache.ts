import { randomUUID } from 'node:crypto'
import { Bus } from './bus'
import { type CacheGetContext, type CacheOutcome, type CacheTier, type CacheWriteContext, channels } from './channels'
import { type Codec, jsonCodec } from './codec'
import { Coherence } from './coherence'
import { RedisTier } from './drivers/redis'
import { resolveRedis } from './drivers/redis-client'
import { createEncryption } from './encryption'
import { CacheClosedError, type CacheError, CacheOptionsError, CacheUnavailableError } from './errors'
import { errorEvent } from './internal/events'
import type { Factory } from './internal/factory-run'
import { L1 } from './l1'
import { Loader } from './loader'
import { type CacheOptions, type GetOrSetOptions, type ResolvedOptions, resolveOptions, type SetOptions } from './options'
import { Tiers } from './tiers'
import { createWriteBehind, type WriteBehindOptions, type WriteBehindQueue } from './write-behind/index'

/** A snapshot from {@link Cache.stats}. */
export interface CacheStats {
  /** Entries and encoded bytes in L1 (bounded by `l1.maxEntries` and `l1.maxBytes`); undefined when L1 is off. */
  l1: { entries: number; bytes: number } | undefined
  /** Whether Redis calls go through (breaker closed) and the invalidation bus is subscribed; undefined without Redis. */
  l2: { available: boolean; busConnected: boolean } | undefined
}

const NO_OPTIONS: GetOrSetOptions = Object.freeze({})

/**
 * A two-tier cache: an in-process LRU (L1) in front of Redis (L2), shared by every instance of the
 * app. Create it with {@link createCache}.
 */
export class Cache {
  /** The namespace: key prefix and metrics label. */
  readonly namespace: string
  readonly #o: ResolvedOptions
  readonly #codec: Codec
  readonly #tiers: Tiers
  readonly #coherence: Coherence
  readonly #loader: Loader
  readonly #ownsClient: boolean
  readonly #bus: Bus | undefined
  readonly #writeBehinds = new Set<{ close(deadlineMs?: number): Promise<void> }>()
  #closed = false

  /** Use {@link createCache}. */
  constructor(options: CacheOptions) {
    const o = resolveOptions(options)
    this.#o = o
    this.namespace = o.namespace
    this.#codec = options.codec ?? jsonCodec
    const instanceId = randomUUID()
    const l1 = o.l1 === false ? undefined : new L1(o.l1)
    const redis = options.redis === undefined ? undefined : resolveRedis(options.redis, o.timeout, (error) => { errorEvent(o.namespace, 'l2', error) })
    this.#ownsClient = redis?.owned ?? false
    const useBus = redis !== undefined && o.bus && l1 !== undefined
    this.#coherence = new Coherence({ l1, instanceId, shared: useBus })
    const l2 = redis === undefined ? undefined : new RedisTier(redis.client, o, instanceId, () => { this.#onRedisBack() })
    this.#tiers = new Tiers({
      options: o,
      codec: this.#codec,
      encryption: options.encryption === undefined ? undefined : createEncryption(options.encryption),
      l1,
      l2,
      coherence: this.#coherence,
    })
    this.#loader = new Loader(o, this.#tiers, this.#coherence)
    if (useBus && l2 !== undefined) {
      this.#bus = new Bus({
        client: l2.client,
        channel: l2.busChannel,
        namespace: o.namespace,
        onMessage: (message) => { this.#coherence.onBusMessage(message) },
        onConnectionChange: (connected) => { this.#coherence.onBusConnection(connected) },
      })
      this.#bus.start()
    }
  }

  /**
   * The fresh value of `key`, or `undefined` on a miss. While Redis is unreachable, an L1 value
   * within its TTL is still served.
   */
  get<T = unknown>(key: string): Promise<T | undefined> {
    const invalid = this.#invalid(key)
    if (invalid !== undefined) return Promise.reject(invalid)
    const ctx: CacheGetContext = { namespace: this.namespace, operation: 'get' }
    const run = (): Promise<T | undefined> => this.#get<T>(key, ctx)
    return channels.get.hasSubscribers ? channels.get.tracePromise(run, ctx) : run()
  }

  /**
   * Stores `value` in both tiers and tells the other instances to drop their L1 copy.
   * Rejects with `ERR_CACHE_L2_UNAVAILABLE` when Redis is configured but unreachable (the key is
   * then deleted from Redis as soon as it is back, so no older value outlives the outage).
   */
  set(key: string, value: unknown, options: SetOptions = NO_OPTIONS): Promise<void> {
    const invalid = this.#invalid(key)
    if (invalid !== undefined) return Promise.reject(invalid)
    const run = async (): Promise<void> => {
      await this.#tiers.store(key, this.#tiers.encode(key, value), this.#tiers.resolve(options), { delta: 0 })
    }
    return this.#traceWrite(channels.set, 'set', run)
  }

  /**
   * Returns the cached value, or runs `factory` once — once per key across every concurrent caller
   * in this process and, with Redis, across all instances (a lock per key) — and caches its result.
   * Serves the last value within `grace` when the factory fails or is slower than `softTimeout`.
   */
  getOrSet<T>(key: string, factory: Factory<T>, options: GetOrSetOptions = NO_OPTIONS): Promise<T> {
    const invalid = this.#invalid(key) ?? (typeof factory === 'function' ? undefined : new CacheOptionsError('getOrSet needs a factory function'))
    if (invalid !== undefined) return Promise.reject(invalid)
    const local = this.#tiers.l1?.get(key)
    if (!channels.get.hasSubscribers) {
      // The hot path: an L1 hit costs one map lookup and a few comparisons.
      if (local !== undefined && this.#tiers.isFresh(local)) {
        this.#loader.maybeRefreshEarly(key, local, factory, options)
        return Promise.resolve(local.value as T)
      }
      return this.#loader.load(key, factory, options, local)
    }
    const ctx: CacheGetContext = { namespace: this.namespace, operation: 'getOrSet' }
    return channels.get.tracePromise(() => {
      if (local !== undefined && this.#tiers.isFresh(local)) {
        this.#loader.maybeRefreshEarly(key, local, factory, options)
        mark(ctx, 'l1', 'hit')
        return Promise.resolve(local.value as T)
      }
      return this.#loader.load(key, factory, options, local, ctx)
    }, ctx)
  }

  /** Deletes `key` everywhere. Rejects with `ERR_CACHE_L2_UNAVAILABLE` when Redis is unreachable (retried when it is back). */
  delete(key: string): Promise<void> {
    const invalid = this.#invalid(key)
    if (invalid !== undefined) return Promise.reject(invalid)
    return this.#traceWrite(channels.delete, 'delete', async () => {
      this.#tiers.l1?.delete(key)
      const l2 = this.#tiers.l2
      if (l2 === undefined) return
      try {
        await l2.delete(key)
      } catch (error) {
        this.#tiers.markFailed(key, error)
        throw error
      }
    })
  }

  /** Invalidates every entry carrying one of `tags`, in Redis and in the L1 of every instance. */
  invalidateTags(tags: readonly string[]): Promise<void> {
    const invalid = this.#invalid() ?? (Array.isArray(tags) && tags.every((t) => typeof t === 'string' && t !== '')
      ? undefined
      : new CacheOptionsError('invalidateTags needs an array of non-empty strings'))
    if (invalid !== undefined) return Promise.reject(invalid)
    return this.#traceWrite(channels.delete, 'invalidateTags', async () => {
      if (tags.length === 0) return
      const l2 = this.#tiers.l2
      this.#coherence.noteTags(tags, l2 === undefined ? Date.now() : await l2.invalidateTags(tags))
    })
  }

  /**
   * Write-through: persists `value` with `write` (your store of record) first, then caches it.
   * If `write` rejects, the cache is not touched and the error is rethrown. If the store took the
   * value but Redis is unreachable, the key is dropped from L1 now and from Redis once it is back.
   */
  writeThrough<T>(key: string, value: T, write: (value: T) => unknown, options: SetOptions = NO_OPTIONS): Promise<void> {
    const invalid = this.#invalid(key)
    if (invalid !== undefined) return Promise.reject(invalid)
    return this.#traceWrite(channels.set, 'writeThrough', async () => {
      const r = this.#tiers.resolve(options)
      const encoded = this.#tiers.encode(key, value)
      await write(value)
      await this.#tiers.store(key, encoded, r, { delta: 0 }).catch((error: unknown) => {
        if (!(error instanceof CacheUnavailableError)) throw error
      })
    })
  }

  /**
   * A write-behind queue whose writes update the cache at once and reach your store in batches
   * later. With Redis the queue is a Redis Stream (nothing acknowledged is lost if the process
   * dies); without Redis it lives in memory and is NOT crash-safe.
   */
  writeBehind<T>(options: WriteBehindOptions<T>): WriteBehindQueue<T> {
    const invalid = this.#invalid()
    if (invalid !== undefined) throw invalid
    const queue = createWriteBehind<T>(options, {
      namespace: this.namespace,
      redis: this.#tiers.l2?.client,
      keyPrefix: `sk:{${this.namespace}:wb:${options.name}}`,
      codec: this.#codec,
      timeoutMs: this.#o.timeout,
      onError: (error) => { errorEvent(this.namespace, 'l2', error) },
    })
    const writer: WriteBehindQueue<T> = {
      set: async (key, value) => {
        const bad = this.#invalid(key)
        if (bad !== undefined) throw bad
        await queue.set(key, value)
        await this.set(key, value).catch(() => undefined)
      },
      delete: async (key) => {
        const bad = this.#invalid(key)
        if (bad !== undefined) throw bad
        await queue.delete(key)
        await this.delete(key).catch(() => undefined)
      },
      flush: () => queue.flush(),
      close: async (deadlineMs) => {
        this.#writeBehinds.delete(writer)
        await queue.close(deadlineMs)
      },
      deadLetters: (limit) => queue.deadLetters(limit),
      isLeader: () => queue.isLeader(),
      [Symbol.asyncDispose]: () => writer.close(),
    }
    this.#writeBehinds.add(writer)
    return writer
  }

  /** Deletes every key of this namespace (only this namespace) in Redis and in every instance's L1. */
  async clear(): Promise<void> {
    const invalid = this.#invalid()
    if (invalid !== undefined) throw invalid
    this.#tiers.l1?.clear()
    await this.#tiers.l2?.clear()
  }

  /** What the in-process tier holds now, and whether Redis and the bus are usable. */
  stats(): CacheStats {
    const { l1, l2 } = this.#tiers
    return {
      l1: l1 === undefined ? undefined : { entries: l1.size, bytes: l1.bytes },
      l2: l2 === undefined ? undefined : { available: l2.available, busConnected: this.#bus?.connected ?? false },
    }
  }

  /**
   * Stops taking calls, lets background refreshes and write-behind queues finish within
   * `deadlineMs`, closes the bus, and quits the Redis client if the cache created it.
   */
  async close(deadlineMs = 10_000): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const work = [...this.#loader.background, ...[...this.#writeBehinds].map((w) => w.close(deadlineMs))]
    await Promise.race([Promise.allSettled(work), delay(deadlineMs)])
    await this.#bus?.close()
    const l2 = this.#tiers.l2
    l2?.shutdown()
    if (this.#ownsClient && l2 !== undefined) {
      await Promise.race([l2.client.quit().catch(() => undefined), delay(1_000)])
      l2.client.disconnect()
    }
  }

  /** `await using cache = createCache(...)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #get<T>(key: string, ctx: CacheGetContext): Promise<T | undefined> {
    const local = this.#tiers.l1?.get(key)
    if (local !== undefined && this.#tiers.isFresh(local)) {
      mark(ctx, 'l1', 'hit')
      return local.value as T
    }
    const l2 = this.#tiers.l2
    let found: { value: unknown; tier: CacheTier } | undefined
    if (l2 === undefined) found = undefined
    else {
      try {
        const read = await l2.peek(key)
        const entry = await this.#tiers.fromStored(key, read.entry, read.now)
        found = entry !== undefined && Date.now() < entry.freshUntil ? { value: entry.value, tier: 'l2' } : undefined
        if (found === undefined) mark(ctx, 'l2', 'miss')
      } catch (error) {
        if (!(error instanceof CacheUnavailableError)) throw error
        // Redis is away: a fresh L1 copy is the best answer there is, even from an older bus epoch.
        const usable = local !== undefined && Date.now() < local.freshUntil && this.#coherence.tagsValid(local, true) === true
        found = usable ? { value: local.value, tier: 'l1' } : undefined
      }
    }
    if (found === undefined) {
      ctx.outcome ??= 'miss'
      ctx.tier ??= 'l1'
      return undefined
    }
    mark(ctx, found.tier, 'hit')
    return found.value as T
  }

  /** Redis answers again (the breaker closed): re-check L1 against it, and delete what we could not update. */
  #onRedisBack(): void {
    const keys = this.#coherence.onRedisBack()
    const l2 = this.#tiers.l2
    if (l2 === undefined) return
    for (const key of keys) l2.delete(key).catch((error: unknown) => { this.#tiers.markFailed(key, error) })
  }

  #traceWrite(channel: typeof channels.set, operation: CacheWriteContext['operation'], run: () => Promise<void>): Promise<void> {
    return channel.hasSubscribers ? channel.tracePromise(run, { namespace: this.namespace, operation }) : run()
  }

  /** The error for a call on a closed cache or with an invalid key; methods reject with it (never throw synchronously). */
  #invalid(key?: string): CacheError | undefined {
    if (this.#closed) return new CacheClosedError(`cache '${this.namespace}' is closed`)
    if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > 1024)) {
      return new CacheOptionsError('a cache key must be a non-empty string of at most 1024 characters')
    }
    return undefined
  }
}

/** Records how a read was answered, for the tracing channel's subscribers. */
function mark(ctx: CacheGetContext, tier: CacheTier, outcome: CacheOutcome): void {
  ctx.tier = tier
  ctx.outcome = outcome
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}

/** Creates a cache. See {@link CacheOptions}; validation errors are thrown here, with `ERR_CACHE_INVALID_OPTIONS`. */
export function createCache(options: CacheOptions): Cache {
  return new Cache(options)
}
