import { randomUUID } from 'node:crypto'
import {
  type CloseOptions,
  CloseGate,
  type HealthSnapshot,
  type HealthStatus,
  withTimeout,
} from '@scalekit/internal'
import { Bus } from './bus'
import {
  type CacheGetContext,
  type CacheOutcome,
  type CacheTier,
  type CacheWriteContext,
  channels,
} from './channels'
import { type Codec, jsonCodec } from './codec'
import { Coherence } from './coherence'
import { createEncryption, type Encryption } from './encryption'
import { CacheArgumentError, CacheClosedError, type CacheError, CacheUnavailableError } from './errors'
import type { Factory } from './factory'
import { Trouble } from './internal/events'
import { invalidKey } from './internal/keys'
import { type Dependent, registerPlumbing } from './internal/plumbing'
import { L1 } from './l1'
import { resolveRedis } from './l2/client'
import { RedisMisses } from './l2/misses'
import { type BreakerState, Remote } from './l2/remote'
import { RedisTier } from './l2/tier'
import { TwoTiers } from './l2/two-tiers'
import { FactoryRuns, Loader } from './loader'
import { MemoryMisses, MemoryTiers } from './memory-tiers'
import {
  argumentChecks,
  type CacheOptions,
  type CallOptions,
  checkParts,
  checkTags,
  type GetOrSetOptions,
  resolveCall,
  resolveOptions,
  type RedisInput,
  type ResolvedOptions,
  type SetOptions,
} from './options'
import type { Tiers } from './tiers'

/** A snapshot from {@link Cache.health}: cheap, synchronous, no I/O. */
export interface CacheHealth extends HealthSnapshot {
  /**
   * `ok`; `degraded` while Redis is configured but unusable (its breaker is not closed, a connection
   * failed or was lost, or a call timed out and none succeeded since): the cache answers from L1 and
   * the factory meanwhile; `closed` after `close()`.
   */
  readonly status: HealthStatus
  /** Entries and bytes counted against `l1.maxEntries` / `l1.maxBytes`; undefined when L1 is off. */
  readonly l1: { readonly entries: number; readonly bytes: number } | undefined
  /** Undefined without Redis. */
  readonly l2:
    | {
        /**
         * False as soon as Redis is known unusable — a connection failed (ECONNREFUSED, ENOTFOUND…) or
         * was lost, a call timed out, or the breaker is open — until a call succeeds again.
         */
        readonly available: boolean
        /** The circuit breaker over Redis. */
        readonly breaker: BreakerState
        /** True while the invalidation bus is subscribed (L1 is trusted only then); false when the bus is off. */
        readonly busConnected: boolean
      }
    | undefined
}

/**
 * A cache: an in-process LRU (L1) in front of Redis (L2), shared by every instance of the app, or
 * either tier alone. Create it with {@link createCache}. Calls reject (never throw synchronously):
 * `ERR_CACHE_INVALID_ARGUMENT` for a bad argument, before any Redis call; `ERR_CACHE_CLOSED` once
 * closed.
 */
export interface Cache extends AsyncDisposable {
  /** The namespace: key prefix and label of every channel event. */
  readonly namespace: string
  /**
   * The fresh value of `key`, or `undefined` on a miss. While Redis is unreachable, an L1 value
   * within its TTL is still served.
   */
  get<T = unknown>(key: string): Promise<T | undefined>
  /**
   * Stores `value` in both tiers and tells the other instances to drop their L1 copy.
   * Rejects with `ERR_CACHE_L2_UNAVAILABLE` when Redis is configured but unreachable (the key is
   * then deleted from Redis as soon as it is back, so no older value outlives the outage).
   */
  set(key: string, value: unknown, options?: SetOptions): Promise<void>
  /**
   * Returns the cached value, or runs `factory` once — once per key across every concurrent caller
   * in this process and, with Redis, across all instances (a lock per key) — and caches its result.
   * Serves the last value within `grace` when the factory fails or is slower than `softTimeout`.
   */
  getOrSet<T, S extends T = T>(key: string, factory: Factory<T, S>, options?: GetOrSetOptions): Promise<T>
  /** Deletes `key` everywhere. Rejects with `ERR_CACHE_L2_UNAVAILABLE` when Redis is unreachable (retried when it is back). */
  delete(key: string): Promise<void>
  /**
   * Invalidates every entry carrying one of `tags`, in Redis and in the L1 of every instance. Any
   * number of tags: they are sent in chunks, each announced to the other instances as it is applied,
   * so a failure part-way leaves no instance serving what Redis already invalidated.
   */
  invalidateTags(tags: readonly string[]): Promise<void>
  /**
   * Write-through: persists `value` with `write` (your store of record) first, then caches it.
   * If `write` rejects, the cache is not touched and the error is rethrown. If the store took the
   * value but Redis is unreachable, the key is dropped from L1 now and from Redis once it is back.
   */
  writeThrough<T>(key: string, value: T, write: (value: T) => unknown, options?: SetOptions): Promise<void>
  /**
   * Deletes every cache entry (with its lock and tag times) of this namespace, only this namespace,
   * in Redis and in every instance's L1. Write-behind queues of the namespace are kept.
   */
  clear(): Promise<void>
  /** What the tiers hold and whether Redis and the bus are usable: cheap, synchronous, no I/O. */
  health(): CacheHealth
  /**
   * Stops taking calls (they reject with `ERR_CACHE_CLOSED`), lets loads, background refreshes and
   * the write-behind queues made on this cache finish (flush) within `timeout` (default `'10s'`),
   * rejects the loads whose factory is still running with `ERR_CACHE_CLOSED`, closes the bus, and quits the Redis
   * client if the cache created it (never one you passed in). Never rejects because of the timeout;
   * a second call returns the first call's promise.
   */
  close(options?: CloseOptions): Promise<void>
}

const NO_OPTIONS: GetOrSetOptions = Object.freeze({})

/** The one implementation of {@link Cache}; its tiers (L1 alone, or L1 and Redis) are chosen by the constructor. */
class CacheInstance implements Cache {
  readonly namespace: string
  readonly #o: ResolvedOptions
  readonly #defaultCall: CallOptions
  readonly #defaultSet: CallOptions
  readonly #tiers: Tiers
  readonly #loader: Loader
  readonly #remote: Remote | undefined
  readonly #ownsClient: boolean
  readonly #bus: Bus | undefined
  readonly #dependents = new Set<Dependent>()
  readonly #gate: CloseGate = new CloseGate(CacheArgumentError, (timeoutMs) => this.#shutdown(timeoutMs))

  constructor(options: CacheOptions) {
    const parts = checkParts(options)
    const o = resolveOptions(options)
    this.#o = o
    this.namespace = o.namespace
    this.#defaultCall = resolveCall(o, NO_OPTIONS)
    this.#defaultSet = resolveCall(o, NO_OPTIONS, 'set')
    const codec = parts.codec ?? jsonCodec
    // Built here even without Redis, so that a bad keyring fails at construction, not never.
    const encryption = parts.encryption === undefined ? undefined : createEncryption(parts.encryption)
    const trouble = new Trouble(o.namespace, parts.logger)
    const l1 = o.l1 === false ? undefined : new L1(o.l1)
    // One tier or two, chosen here once: the cache and its loader never ask which.
    const { redis } = options
    if (redis === undefined) {
      const coherence = new Coherence({ l1, instanceId: randomUUID(), shared: false })
      this.#tiers = new MemoryTiers({ options: o, codec, l1, coherence })
      const runs = new FactoryRuns(this.#tiers, coherence)
      this.#loader = new Loader(o, new MemoryMisses(runs), runs)
      this.#remote = undefined
      this.#ownsClient = false
      this.#bus = undefined
    } else {
      const built = withRedis(redis, o, { codec, encryption, trouble, l1, closed: () => this.#gate.closed })
      this.#tiers = built.tiers
      this.#loader = built.loader
      this.#remote = built.remote
      this.#ownsClient = built.owned
      this.#bus = built.bus
    }
    registerPlumbing(this, {
      namespace: o.namespace,
      codec,
      encryption,
      remote: this.#remote,
      trouble,
      closed: () => this.#gate.closed,
      adopt: (dependent) => {
        this.#dependents.add(dependent)
        return () => this.#dependents.delete(dependent)
      },
    })
  }

  get<T = unknown>(key: string): Promise<T | undefined> {
    const invalid = this.#invalid(key)
    if (invalid !== undefined) return Promise.reject(invalid)
    const ctx: CacheGetContext = { namespace: this.namespace, operation: 'get' }
    const run = (): Promise<T | undefined> => this.#get<T>(key, ctx)
    return channels.get.hasSubscribers ? channels.get.tracePromise(run, ctx) : run()
  }

  set(key: string, value: unknown, options: SetOptions = NO_OPTIONS): Promise<void> {
    const invalid = this.#invalid(key)
    if (invalid !== undefined) return Promise.reject(invalid)
    const call = this.#call(options, 'set')
    if (call instanceof Error) return Promise.reject(call)
    return this.#traceWrite(channels.set, 'set', async () => {
      await this.#tiers.store(key, this.#tiers.encode(key, value), this.#tiers.lifetime(call, false), {
        delta: 0,
      })
    })
  }

  getOrSet<T, S extends T = T>(
    key: string,
    factory: Factory<T, S>,
    options: GetOrSetOptions = NO_OPTIONS,
  ): Promise<T> {
    const invalid: CacheError | undefined =
      this.#invalid(key) ??
      (typeof factory === 'function'
        ? undefined
        : new CacheArgumentError('getOrSet needs a factory function'))
    if (invalid !== undefined) return Promise.reject(invalid)
    const call = this.#call(options, 'getOrSet')
    if (call instanceof Error) return Promise.reject(call)
    // `stale` is a `T` at run time; `S` only lets `T` be inferred from the factory's return.
    const run = factory as Factory<T>
    if (!channels.get.hasSubscribers) return this.#getOrSet(key, run, call)
    const ctx: CacheGetContext = { namespace: this.namespace, operation: 'getOrSet' }
    return channels.get.tracePromise(() => this.#getOrSet(key, run, call, ctx), ctx)
  }

  delete(key: string): Promise<void> {
    const invalid = this.#invalid(key)
    if (invalid !== undefined) return Promise.reject(invalid)
    return this.#traceWrite(channels.delete, 'delete', () => this.#tiers.delete(key))
  }

  invalidateTags(tags: readonly string[]): Promise<void> {
    const invalid: CacheError | undefined = this.#closed() ?? invalidTags(tags)
    if (invalid !== undefined) return Promise.reject(invalid)
    return this.#traceWrite(channels.delete, 'invalidateTags', async () => {
      if (tags.length > 0) await this.#tiers.invalidateTags(tags)
    })
  }

  writeThrough<T>(
    key: string,
    value: T,
    write: (value: T) => unknown,
    options: SetOptions = NO_OPTIONS,
  ): Promise<void> {
    const invalid: CacheError | undefined =
      this.#invalid(key) ??
      (typeof write === 'function'
        ? undefined
        : new CacheArgumentError('writeThrough needs a write function'))
    if (invalid !== undefined) return Promise.reject(invalid)
    const call = this.#call(options, 'set')
    if (call instanceof Error) return Promise.reject(call)
    return this.#traceWrite(channels.set, 'writeThrough', async () => {
      const encoded = this.#tiers.encode(key, value)
      await write(value)
      await this.#tiers
        .store(key, encoded, this.#tiers.lifetime(call, false), { delta: 0 })
        .catch((error: unknown) => {
          if (!(error instanceof CacheUnavailableError)) throw error
        })
    })
  }

  clear(): Promise<void> {
    const invalid = this.#closed()
    if (invalid !== undefined) return Promise.reject(invalid)
    return this.#traceWrite(channels.delete, 'clear', () => this.#tiers.clear())
  }

  health(): CacheHealth {
    const { l1 } = this.#tiers
    const remote = this.#remote
    const l2 =
      remote === undefined
        ? undefined
        : {
            available: remote.available,
            breaker: remote.breaker,
            busConnected: this.#bus?.connected ?? false,
          }
    const status: HealthStatus = this.#gate.closed
      ? 'closed'
      : remote !== undefined && (remote.breaker !== 'closed' || remote.down)
        ? 'degraded'
        : 'ok'
    return { status, l1: l1 === undefined ? undefined : { entries: l1.size, bytes: l1.bytes }, l2 }
  }

  close(options?: CloseOptions): Promise<void> {
    return this.#gate.close(options)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #shutdown(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    const work = [
      ...this.#loader.pending(),
      ...[...this.#dependents].map((d) => d.close({ timeout: timeoutMs })),
    ]
    await withTimeout(
      Promise.allSettled(work),
      timeoutMs,
      () => new CacheClosedError('close timed out'),
    ).catch(() => undefined)
    this.#loader.abandon(
      new CacheClosedError(`cache '${this.namespace}' was closed before the load finished`),
    )
    await this.#bus?.close()
    const remote = this.#remote
    remote?.shutdown()
    if (this.#ownsClient && remote !== undefined) {
      // QUIT lets the replies in flight arrive; a dead Redis must not hold close() past its timeout
      // (nor past the cache's own timeout, which may be long: an hour's timeout once held close()).
      const left = Math.min(this.#o.timeout, Math.max(50, deadline - Date.now()))
      await withTimeout(remote.client.quit(), left, () => new CacheClosedError('QUIT timed out')).catch(
        () => undefined,
      )
      remote.client.disconnect()
    }
  }

  /** The L1 fast path written once; a miss (or an entry that may not be served) goes to the loader. */
  #getOrSet<T>(key: string, factory: Factory<T>, call: CallOptions, ctx?: CacheGetContext): Promise<T> {
    const local = this.#tiers.l1?.get(key)
    if (local !== undefined && this.#tiers.isFresh(local, key)) {
      this.#loader.maybeRefreshEarly(key, local, factory, call)
      if (ctx !== undefined) mark(ctx, 'l1', 'hit')
      return Promise.resolve(local.value as T)
    }
    return this.#loader.load(key, factory, call, local, ctx)
  }

  async #get<T>(key: string, ctx: CacheGetContext): Promise<T | undefined> {
    const local = this.#tiers.l1?.get(key)
    if (local !== undefined && this.#tiers.isFresh(local, key)) {
      mark(ctx, 'l1', 'hit')
      return local.value as T
    }
    const value = await this.#tiers.read(key, local, ctx)
    if (ctx.outcome === undefined || ctx.outcome === 'miss') {
      ctx.outcome = 'miss'
      ctx.tier ??= 'l1'
    }
    return value as T | undefined
  }

  /** A call's options resolved once, at its entry; the cache's defaults when none were given. */
  #call(options: GetOrSetOptions, kind: 'set' | 'getOrSet'): CallOptions | CacheArgumentError {
    if (options === NO_OPTIONS) return kind === 'set' ? this.#defaultSet : this.#defaultCall
    try {
      return resolveCall(this.#o, options, kind)
    } catch (error) {
      if (error instanceof CacheArgumentError) return error
      throw error
    }
  }

  #traceWrite(
    channel: typeof channels.set,
    operation: CacheWriteContext['operation'],
    run: () => Promise<void>,
  ): Promise<void> {
    return channel.hasSubscribers
      ? channel.tracePromise(run, { namespace: this.namespace, operation })
      : run()
  }

  /** The error for a call on a closed cache or with an invalid key; methods reject with it (never throw synchronously). */
  #invalid(key: unknown): CacheError | undefined {
    return this.#closed() ?? invalidKey(key)
  }

  #closed(): CacheError | undefined {
    return !this.#gate.closed ? undefined : new CacheClosedError(`cache '${this.namespace}' is closed`)
  }
}

/** The two-tier parts of a cache: the Redis connection and tier, the tiers over them, their miss path, the bus. */
function withRedis(
  input: RedisInput,
  o: ResolvedOptions,
  shared: {
    codec: Codec
    encryption: Encryption | undefined
    trouble: Trouble
    l1: L1 | undefined
    /** True once the cache is closing: the bus going away then is no trouble. */
    closed: () => boolean
  },
): { tiers: TwoTiers; loader: Loader; remote: Remote; owned: boolean; bus: Bus | undefined } {
  const { codec, encryption, trouble, l1 } = shared
  const instanceId = randomUUID()
  // Connection errors are heard by the Remote: the cause of failed calls, and one warning per episode.
  const redis = resolveRedis(input, o.timeout, () => undefined)
  const useBus = o.bus && l1 !== undefined
  const coherence = new Coherence({ l1, instanceId, shared: useBus })
  // The breaker's close event needs the tiers, which need the connection: wired once both exist.
  let onRedisBack = (): void => undefined
  const remote = Remote.create(redis.client, o, {
    open: () => {
      trouble.l2Down()
    },
    close: () => {
      trouble.l2Recovered()
      onRedisBack()
    },
    lost: (reason) => {
      trouble.l2Lost(reason)
    },
    back: () => {
      trouble.l2Recovered()
      onRedisBack()
    },
  })
  const l2 = new RedisTier(remote, o, instanceId)
  const tiers = new TwoTiers({ options: o, codec, encryption, l1, l2, coherence, trouble })
  onRedisBack = () => {
    tiers.onRedisBack()
  }
  const runs = new FactoryRuns(tiers, coherence)
  const loader = new Loader(o, new RedisMisses({ options: o, tiers, coherence, runs }), runs)
  let bus: Bus | undefined
  if (useBus) {
    bus = new Bus({
      client: l2.client,
      channel: l2.busChannel,
      namespace: o.namespace,
      onMessage: (message) => {
        coherence.onBusMessage(message)
      },
      onConnectionChange: (connected) => {
        coherence.onBusConnection(connected)
        if (connected) trouble.busUp()
        else if (!shared.closed()) trouble.busDown()
      },
    })
    bus.start()
  }
  return { tiers, loader, remote, owned: redis.owned, bus }
}

/** The error for a bad tag list given to `invalidateTags`, or undefined. */
function invalidTags(tags: unknown): CacheArgumentError | undefined {
  try {
    checkTags(argumentChecks, 'tags', tags)
    return undefined
  } catch (error) {
    if (error instanceof CacheArgumentError) return error
    throw error
  }
}

/** Records how a read was answered, for the tracing channel's subscribers. */
function mark(ctx: CacheGetContext, tier: CacheTier, outcome: CacheOutcome): void {
  ctx.tier = tier
  ctx.outcome = outcome
}

/**
 * Creates a cache: memory only, or with `redis` an L1 in front of Redis shared by every instance.
 * Options are checked here, once: a bad one throws `ERR_CACHE_INVALID_OPTIONS` naming it.
 */
export function createCache(options: CacheOptions): Cache {
  return new CacheInstance(options)
}
