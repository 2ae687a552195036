import type { CacheTier } from './channels'
import type { Coherence } from './coherence'
import { type Factory, type FactoryOutcome, runFactory } from './factory'
import type { L1Entry } from './l1'
import type { CallOptions, ResolvedOptions } from './options'
import { answered, type Marks, type Tiers } from './tiers'

/** How a cache finds or computes a value past an L1 entry that may not be served; chosen once at construction. */
export interface MissPath {
  /** Finds or computes the value of `key`, recording in `marks` where the answer came from. */
  load<T>(
    key: string,
    factory: Factory<T>,
    call: CallOptions,
    local: L1Entry | undefined,
    marks: Marks,
  ): Promise<T>
  /** Recomputes a value still fresh in L1 (early refresh), storing it like a load would. */
  refresh<T>(key: string, entry: L1Entry, factory: Factory<T>, call: CallOptions): Promise<void>
}

interface InFlight {
  readonly promise: Promise<unknown>
  readonly marks: Marks
}

/**
 * Loads a key on a miss once per key in this process (single-flight), and refreshes a hot key
 * early (XFetch); the way a miss is answered is the cache's {@link MissPath}.
 */
export class Loader {
  readonly #o: ResolvedOptions
  readonly #misses: MissPath
  readonly #runs: FactoryRuns
  /**
   * Loads in flight by key: concurrent callers of one key share one. A null-prototype object, not a
   * `Map`: with a set and a delete per load, a long-lived `Map` made V8 promote the loads in flight
   * on every scavenge, and an L2 hit cost measurably more CPU (benchmarks/README.md, cache, issue 11).
   * Without a prototype, any string is a safe key.
   */
  readonly #inflight: Record<string, InFlight | undefined> = Object.create(null) as Record<
    string,
    InFlight | undefined
  >
  readonly #refreshing = new Set<string>()

  constructor(options: ResolvedOptions, misses: MissPath, runs: FactoryRuns) {
    this.#o = options
    this.#misses = misses
    this.#runs = runs
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
    const pending = this.#inflight[key]
    if (pending !== undefined) {
      const joined = pending.promise as Promise<T>
      return marks === undefined
        ? joined
        : joined.then((value) => answered(marks, pending.marks.tier ?? 'l2', 'coalesced', value))
    }
    const own: Marks = marks ?? {}
    const promise = this.#load(key, factory, call, local, own)
    const flight: InFlight = { promise, marks: own }
    this.#inflight[key] = flight
    return promise
  }

  async #load<T>(
    key: string,
    factory: Factory<T>,
    call: CallOptions,
    local: L1Entry | undefined,
    marks: Marks,
  ): Promise<T> {
    try {
      return await this.#misses.load(key, factory, call, local, marks)
    } finally {
      Reflect.deleteProperty(this.#inflight, key)
    }
  }

  /** XFetch (Vattani et al., VLDB 2015): refresh a hot key before it expires, with a probability rising as expiry nears. */
  maybeRefreshEarly<T>(key: string, entry: L1Entry, factory: Factory<T>, call: CallOptions): void {
    const scale = entry.delta * this.#o.earlyRefreshBeta
    if (scale <= 0) return
    const now = Date.now()
    // P(refresh) = exp(-timeLeft / (delta * beta)): past 32 scales it is below 1e-13, so skip the draw.
    if (entry.freshUntil - now > 32 * scale) return
    if (now - scale * Math.log(Math.random()) < entry.freshUntil) return
    if (this.#refreshing.has(key) || this.#inflight[key] !== undefined) return
    this.#refreshing.add(key)
    const refresh = this.#misses
      .refresh(key, entry, factory, call)
      .catch(() => undefined)
      .finally(() => {
        this.#refreshing.delete(key)
      })
    this.#runs.track(refresh)
  }

  /** Loads in flight and background work: what `close()` lets finish within its timeout. */
  pending(): Promise<unknown>[] {
    return [
      ...Object.values(this.#inflight).flatMap((flight) => (flight === undefined ? [] : [flight.promise])),
      ...this.#runs.background,
    ]
  }

  /**
   * Gives up on the factories still running (the cache is closed): their callers, and the loads
   * waiting on them, reject with `error`. Redis calls need no such step: each is bounded by `timeout`.
   */
  abandon(error: Error): void {
    this.#runs.abandon(error)
  }
}

/** A store step that runs whenever the factory settles; `promise` resolves when it has. */
export interface Pending<T> {
  readonly promise: Promise<void>
  readonly run: (outcome: FactoryOutcome<T>) => void
}

/**
 * Runs factories for the miss paths: races each against its soft and hard timeouts, stores its
 * result whenever it settles (also after the caller was answered), and tracks that work so
 * `close()` waits for it.
 */
export class FactoryRuns {
  /** Work that outlives its caller (refreshes after a soft timeout, early refreshes, stores). */
  readonly background: Set<Promise<unknown>> = new Set()
  /** How to give up each factory run still going (the cache's `close()` does, past its timeout). */
  readonly #running = new Set<(reason: Error) => void>()
  readonly #tiers: Tiers
  readonly #coherence: Coherence

  constructor(tiers: Tiers, coherence: Coherence) {
    this.#tiers = tiers
    this.#coherence = coherence
  }

  /** Serves L1 within its TTL (or grace while the factory fails), else runs the factory and keeps the result in L1. */
  async loadLocally<T>(
    key: string,
    factory: Factory<T>,
    call: CallOptions,
    local: L1Entry | undefined,
    marks: Marks,
  ): Promise<T> {
    const usable = local !== undefined && this.#coherence.tagsValid(local, true) === true
    const now = Date.now()
    if (usable && now < local.freshUntil) return answered(marks, 'l1', 'hit', local.value as T)
    const stale = usable && now < local.staleUntil ? { value: local.value as T } : undefined
    return this.runLocally(key, factory, call, stale, marks)
  }

  /** Runs the factory and keeps its result in L1 only. */
  runLocally<T>(
    key: string,
    factory: Factory<T>,
    call: CallOptions,
    stale: { value: T } | undefined,
    marks: Marks,
  ): Promise<T> {
    const stored = this.settle<T>((outcome) => {
      if (!outcome.ok) return Promise.resolve()
      try {
        const lifetime = this.#tiers.lifetime(call, outcome.value === null || outcome.value === undefined)
        this.#tiers.storeLocal(key, this.#tiers.encode(key, outcome.value), lifetime, outcome.delta)
      } catch {
        // an unencodable value is not cached; the caller still gets it
      }
      return Promise.resolve()
    })
    return this.race(factory, call, stale, stored, 'l1', marks)
  }

  /** A store step to run when the factory settles, tracked so `close()` waits for it. */
  settle<T>(store: (outcome: FactoryOutcome<T>) => Promise<void>): Pending<T> {
    let done: () => void = () => undefined
    const promise = new Promise<void>((resolve) => {
      done = resolve
    })
    this.track(promise)
    return {
      promise,
      run: (outcome) => {
        void store(outcome).finally(done)
      },
    }
  }

  /**
   * Runs the factory against the call's timeouts; a fresh value is answered once it is stored.
   * `onAbandoned` runs if the factory is given up before it settles (hard timeout, close).
   */
  async race<T>(
    factory: Factory<T>,
    call: CallOptions,
    stale: { value: T } | undefined,
    stored: Pending<T>,
    staleTier: CacheTier,
    marks: Marks,
    onAbandoned?: () => void,
  ): Promise<T> {
    const result = await runFactory(
      factory,
      {
        stale,
        softTimeout: call.softTimeout,
        hardTimeout: call.hardTimeout,
        running: this.#running,
        onAbandoned,
      },
      stored.run,
    )
    if (result.kind === 'stale') return answered(marks, staleTier, 'stale', result.value)
    await stored.promise
    return answered(marks, 'factory', 'miss', result.value)
  }

  /** Rejects every factory run still going with `error`. */
  abandon(error: Error): void {
    for (const giveUp of [...this.#running]) giveUp(error)
  }

  /** Tracks work so `close()` waits for it. */
  track(promise: Promise<unknown>): void {
    this.background.add(promise)
    void promise.finally(() => this.background.delete(promise))
  }
}
