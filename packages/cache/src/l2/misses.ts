import { randomUUID } from 'node:crypto'
import type { Coherence } from '../coherence'
import { CacheFactoryTimeoutError, CacheUnavailableError } from '../errors'
import type { Factory } from '../factory'
import { lockEvent } from '../internal/events'
import type { L1Entry } from '../l1'
import type { FactoryRuns, MissPath } from '../loader'
import type { CallOptions, ResolvedOptions } from '../options'
import { answered, type Marks } from '../tiers'
import type { RedisTier } from './tier'
import type { TwoTiers } from './two-tiers'

interface Holding<T> {
  readonly token: string
  readonly expectedVer: number
  readonly created: number
  readonly stale: { value: T } | undefined
}

/**
 * A two-tier cache's misses: a plain read first (the hit path: no script, no lock); on a miss,
 * one instance takes the key's lock in Redis and runs the factory while the others wait for its
 * value (woken by the bus); while Redis is away, what L1 and the factory can answer.
 */
export class RedisMisses implements MissPath {
  readonly #o: ResolvedOptions
  readonly #tiers: TwoTiers
  readonly #l2: RedisTier
  readonly #coherence: Coherence
  readonly #runs: FactoryRuns

  constructor(deps: { options: ResolvedOptions; tiers: TwoTiers; coherence: Coherence; runs: FactoryRuns }) {
    this.#o = deps.options
    this.#tiers = deps.tiers
    this.#l2 = deps.tiers.l2
    this.#coherence = deps.coherence
    this.#runs = deps.runs
  }

  async load<T>(
    key: string,
    factory: Factory<T>,
    call: CallOptions,
    local: L1Entry | undefined,
    marks: Marks,
  ): Promise<T> {
    const l2 = this.#l2
    try {
      const peeked = await l2.peek(key)
      const entry = await this.#tiers.fromStored(key, peeked.entry, peeked.now)
      if (entry !== undefined && Date.now() < entry.freshUntil)
        return answered(marks, 'l2', 'hit', entry.value as T)
    } catch (error) {
      if (!(error instanceof CacheUnavailableError)) throw error
      return this.#runs.loadLocally(key, factory, call, local, marks)
    }
    const deadline = call.hardTimeout === undefined ? Number.POSITIVE_INFINITY : Date.now() + call.hardTimeout
    const token = randomUUID()
    let waitStarted: number | undefined
    for (;;) {
      let read
      try {
        read = await l2.read(key, { token, leaseMs: this.#o.lockLease })
      } catch (error) {
        if (!(error instanceof CacheUnavailableError)) throw error
        return this.#runs.loadLocally(key, factory, call, local, marks)
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

  async refresh<T>(key: string, entry: L1Entry, factory: Factory<T>, call: CallOptions): Promise<void> {
    const token = randomUUID()
    if (!(await this.#l2.tryLock(key, token))) return // another instance is refreshing it
    const read = await this.#l2.read(key)
    const stale = { value: entry.value as T }
    await this.#runAsHolder(
      key,
      factory,
      call,
      { token, expectedVer: read.ver, created: read.now, stale },
      {},
    )
  }

  /** Runs the factory as the lock holder: renews the lease meanwhile, stores the result and releases in one step. */
  #runAsHolder<T>(
    key: string,
    factory: Factory<T>,
    call: CallOptions,
    hold: Holding<T>,
    marks: Marks,
  ): Promise<T> {
    const l2 = this.#l2
    let holding = true
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
    // Given up (hard timeout, close) while the factory still runs: a hung factory must not hold the
    // key on every instance, so stop renewing and release; a late result is still written if no
    // newer one landed meanwhile (the write is conditional on the version read).
    const letGo = (): void => {
      if (!holding) return
      holding = false
      clearInterval(renew)
      l2.releaseLock(key, hold.token).then(
        () => {
          lockEvent(this.#o.namespace, 'released')
        },
        () => undefined,
      )
    }
    const stored = this.#runs.settle<T>(async (outcome) => {
      try {
        if (!outcome.ok) {
          if (holding) await l2.releaseLock(key, hold.token)
          return
        }
        const lifetime = this.#tiers.lifetime(call, outcome.value === null || outcome.value === undefined)
        await this.#tiers.store(key, this.#tiers.encode(key, outcome.value), lifetime, {
          delta: outcome.delta,
          expectedVer: hold.expectedVer,
          created: hold.created,
          lockToken: hold.token,
        })
        if (holding) lockEvent(this.#o.namespace, 'released')
      } catch {
        if (holding) await l2.releaseLock(key, hold.token).catch(() => undefined)
      } finally {
        holding = false
        clearInterval(renew)
      }
    })
    return this.#runs.race(factory, call, hold.stale, stored, 'l2', marks, letGo)
  }
}
