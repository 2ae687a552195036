import { randomUUID } from 'node:crypto'
import type { CacheOutcome, CacheTier } from './channels'
import type { Coherence } from './coherence'
import { CacheFactoryTimeoutError, CacheUnavailableError } from './errors'
import { lockEvent } from './internal/events'
import { type Factory, type FactoryOutcome, runFactory } from './internal/factory-run'
import type { L1Entry } from './l1'
import type { RedisTier } from './l2/tier'
import type { CallOptions, ResolvedOptions } from './options'
import type { Tiers } from './tiers'

/** Where a load's answer came from, for the tracing channel. */
export interface Marks {
  tier?: CacheTier | undefined
  outcome?: CacheOutcome | undefined
}

/** Records where an answer came from and returns it. */
function answered<T>(marks: Marks, tier: CacheTier, outcome: CacheOutcome, value: T): T {
  marks.tier = tier
  marks.outcome = outcome
  return value
}

interface InFlight {
  promise: Promise<unknown>
  marks: Marks
  /** Rejects the callers with the cache's closed error, when `close()` gives up on the load. */
  abandon: (error: Error) => void
}

/** A store step that runs whenever the factory settles; `promise` resolves when it has. */
interface Pending<T> {
  promise: Promise<void>
  run: (outcome: FactoryOutcome<T>) => void
}

interface Holding<T> {
  token: string
  expectedVer: number
  created: number
  stale: { value: T } | undefined
}

/**
 * Loads a key on a miss: once per key in this process (single-flight), once per key across
 * instances (a Redis lock per key), with stale serving, timeouts and early refresh.
 */
export class Loader {
  readonly #o: ResolvedOptions
  readonly #tiers: Tiers
  readonly #coherence: Coherence
  /** Loads in flight by key: concurrent callers of one key share one. */
  readonly #inflight = new Map<string, InFlight>()
  readonly #refreshing = new Set<string>()
  /** Work that outlives its caller (refreshes after a soft timeout, early refreshes): awaited by close(). */
  readonly #background = new Set<Promise<unknown>>()

  constructor(options: ResolvedOptions, tiers: Tiers, coherence: Coherence) {
    this.#o = options
    this.#tiers = tiers
    this.#coherence = coherence
  }

  /**
   * Joins the load in flight for `key`, or starts one. `marks`, when given, receives where the
   * answer came from (the tracing channel's tier and outcome).
   */
  load<T>(
    key: string,
    factory: Factory<T>,
    call: CallOptions,
    local: L1Entry | undefined,
    marks?: Marks,
  ): Promise<T> {
    const pending = this.#inflight.get(key)
    if (pending !== undefined) {
      const joined = pending.promise as Promise<T>
      return marks === undefined
        ? joined
        : joined.then((value) => answered(marks, pending.marks.tier ?? 'l2', 'coalesced', value))
    }
    const own: Marks = marks ?? {}
    let abandon: (error: Error) => void = () => undefined
    const promise = new Promise<T>((resolve, reject) => {
      abandon = reject
      this.#loadOnce(key, factory, call, local, own)
        .then(resolve, reject)
        .finally(() => {
          if (this.#inflight.get(key) === flight) this.#inflight.delete(key)
        })
    })
    const flight: InFlight = { promise, marks: own, abandon }
    this.#inflight.set(key, flight)
    return promise
  }

  /** Loads in flight and background work: what `close()` lets finish within its timeout. */
  pending(): Promise<unknown>[] {
    return [...[...this.#inflight.values()].map((flight) => flight.promise), ...this.#background]
  }

  /** Rejects the callers of every load still in flight with `error` (the cache is closed). */
  abandon(error: Error): void {
    for (const flight of this.#inflight.values()) flight.abandon(error)
  }

  /** XFetch (Vattani et al., VLDB 2015): refresh a hot key before it expires, with a probability rising as expiry nears. */
  maybeRefreshEarly<T>(key: string, entry: L1Entry, factory: Factory<T>, call: CallOptions): void {
    const scale = entry.delta * this.#o.earlyRefreshBeta
    if (scale <= 0) return
    const now = Date.now()
    // P(refresh) = exp(-timeLeft / (delta * beta)): past 32 scales it is below 1e-13, so skip the draw.
    if (entry.freshUntil - now > 32 * scale) return
    if (
      now - scale * Math.log(Math.random()) < entry.freshUntil ||
      this.#refreshing.has(key) ||
      this.#inflight.has(key)
    )
      return
    this.#refreshing.add(key)
    const refresh = this.#refreshEarly(key, entry, factory, call)
      .catch(() => undefined)
      .finally(() => {
        this.#refreshing.delete(key)
      })
    this.#track(refresh)
  }

  async #refreshEarly<T>(key: string, entry: L1Entry, factory: Factory<T>, call: CallOptions): Promise<void> {
    const l2 = this.#tiers.l2
    const stale = { value: entry.value as T }
    if (l2 === undefined) {
      await this.#runLocally(key, factory, call, stale, {})
      return
    }
    const token = randomUUID()
    if (!(await l2.tryLock(key, token))) return // another instance is refreshing it
    const read = await l2.read(key)
    await this.#runAsHolder(
      l2,
      key,
      factory,
      call,
      { token, expectedVer: read.ver, created: read.now, stale },
      {},
    )
  }

  async #loadOnce<T>(
    key: string,
    factory: Factory<T>,
    call: CallOptions,
    local: L1Entry | undefined,
    marks: Marks,
  ): Promise<T> {
    const l2 = this.#tiers.l2
    let redisAway = l2 === undefined
    if (l2 !== undefined) {
      // The hit path: a plain read, no script, no lock.
      try {
        const peeked = await l2.peek(key)
        const entry = await this.#tiers.fromStored(key, peeked.entry, peeked.now)
        if (entry !== undefined && Date.now() < entry.freshUntil)
          return answered(marks, 'l2', 'hit', entry.value as T)
      } catch (error) {
        if (!(error instanceof CacheUnavailableError)) throw error
        redisAway = true
      }
    }
    if (redisAway || l2 === undefined) return this.#loadLocally(key, factory, call, local, marks)
    const deadline = call.hardTimeout === undefined ? Number.POSITIVE_INFINITY : Date.now() + call.hardTimeout
    const token = randomUUID()
    let waitStarted: number | undefined
    for (;;) {
      let read
      try {
        read = await l2.read(key, { token, leaseMs: this.#o.lockLease })
      } catch (error) {
        if (!(error instanceof CacheUnavailableError)) throw error
        return this.#loadLocally(key, factory, call, local, marks)
      }
      const entry = await this.#tiers.fromStored(key, read.entry, read.now)
      const now = Date.now()
      if (entry !== undefined && now < entry.freshUntil) {
        if (waitStarted !== undefined) lockEvent(this.#o.namespace, 'waited', now - waitStarted)
        return answered(marks, 'l2', waitStarted === undefined ? 'hit' : 'coalesced', entry.value as T)
      }
      const stale = entry !== undefined && now < entry.staleUntil ? { value: entry.value as T } : undefined
      // Fresh in Redis's eyes but unusable here (a tag was invalidated, or it did not decode): lock explicitly.
      const locked =
        read.locked ||
        (read.lockTtl === -2 &&
          read.entry !== undefined &&
          entry === undefined &&
          (await l2.tryLock(key, token)))
      if (locked) {
        lockEvent(this.#o.namespace, 'acquired')
        return this.#runAsHolder(
          l2,
          key,
          factory,
          call,
          { token, expectedVer: read.ver, created: read.now, stale },
          marks,
        )
      }
      if (stale !== undefined) return answered(marks, 'l2', 'stale', stale.value)
      waitStarted ??= now
      if (now >= deadline) {
        throw new CacheFactoryTimeoutError(
          `no value within ${String(call.hardTimeout)} ms: another instance holds the key's lock`,
        )
      }
      // Woken by the bus when the value lands; otherwise when the holder's lease runs out.
      await this.#coherence.waitForKey(
        key,
        Math.min((read.lockTtl > 0 ? read.lockTtl : 50) + 5, deadline - now),
      )
    }
  }

  /** Runs the factory as the lock holder: renews the lease meanwhile, stores the result and releases in one step. */
  async #runAsHolder<T>(
    l2: RedisTier,
    key: string,
    factory: Factory<T>,
    call: CallOptions,
    hold: Holding<T>,
    marks: Marks,
  ): Promise<T> {
    const renew = setInterval(
      () => {
        l2.renewLock(key, hold.token).then(
          (held) => {
            if (!held) lockEvent(this.#o.namespace, 'lost')
          },
          () => undefined,
        )
      },
      Math.max(50, Math.floor(this.#o.lockLease / 3)),
    )
    renew.unref()
    const stored = this.#settle<T>(async (outcome) => {
      try {
        if (!outcome.ok) {
          await l2.releaseLock(key, hold.token)
          return
        }
        const lifetime = this.#tiers.lifetime(call, outcome.value === null || outcome.value === undefined)
        await this.#tiers.store(key, this.#tiers.encode(key, outcome.value), lifetime, {
          delta: outcome.delta,
          expectedVer: hold.expectedVer,
          created: hold.created,
          lockToken: hold.token,
        })
        lockEvent(this.#o.namespace, 'released')
      } catch {
        await l2.releaseLock(key, hold.token).catch(() => undefined)
      } finally {
        clearInterval(renew)
      }
    })
    return this.#race(factory, call, hold.stale, stored, 'l2', marks)
  }

  /** No Redis, or Redis unreachable: serve L1 within grace, else run the factory and keep the result in L1. */
  async #loadLocally<T>(
    key: string,
    factory: Factory<T>,
    call: CallOptions,
    local: L1Entry | undefined,
    marks: Marks,
  ): Promise<T> {
    const usable = local !== undefined && this.#coherence.tagsValid(local, true) === true
    const now = Date.now()
    if (usable && now < local.freshUntil) return answered(marks, 'l1', 'hit', local.value as T)
    return this.#runLocally(
      key,
      factory,
      call,
      usable && now < local.staleUntil ? { value: local.value as T } : undefined,
      marks,
    )
  }

  #runLocally<T>(
    key: string,
    factory: Factory<T>,
    call: CallOptions,
    stale: { value: T } | undefined,
    marks: Marks,
  ): Promise<T> {
    const stored = this.#settle<T>((outcome) => {
      if (!outcome.ok) return Promise.resolve()
      try {
        const lifetime = this.#tiers.lifetime(call, outcome.value === null || outcome.value === undefined)
        this.#tiers.storeLocal(key, this.#tiers.encode(key, outcome.value), lifetime, outcome.delta)
      } catch {
        // an unencodable value is not cached; the caller still gets it
      }
      return Promise.resolve()
    })
    return this.#race(factory, call, stale, stored, 'l1', marks)
  }

  /** Tracks a store step so close() waits for it. */
  #settle<T>(store: (outcome: FactoryOutcome<T>) => Promise<void>): Pending<T> {
    let done!: () => void
    const promise = new Promise<void>((resolve) => {
      done = resolve
    })
    this.#track(promise)
    return {
      promise,
      run: (outcome) => {
        void store(outcome).finally(done)
      },
    }
  }

  async #race<T>(
    factory: Factory<T>,
    call: CallOptions,
    stale: { value: T } | undefined,
    stored: Pending<T>,
    staleTier: CacheTier,
    marks: Marks,
  ): Promise<T> {
    const result = await runFactory(
      factory,
      { stale, softTimeout: call.softTimeout, hardTimeout: call.hardTimeout },
      stored.run,
    )
    if (result.kind === 'stale') return answered(marks, staleTier, 'stale', result.value)
    await stored.promise
    return answered(marks, 'factory', 'miss', result.value)
  }

  #track(promise: Promise<unknown>): void {
    this.#background.add(promise)
    void promise.finally(() => this.#background.delete(promise))
  }
}
