import type { Codec } from './codec'
import type { Coherence } from './coherence'
import type { Factory } from './factory'
import type { L1, L1Entry } from './l1'
import type { FactoryRuns, MissPath } from './loader'
import type { CallOptions, ResolvedOptions } from './options'
import { type Encoded, encodeText, entryOf, type Lifetime, lifetimeOf, type Marks, type Tiers } from './tiers'

/**
 * A memory-only cache's storage: L1 alone. What it holds is the truth (nobody else writes it), so
 * an entry is fresh until its TTL and tags are checked against this process's invalidations only.
 */
export class MemoryTiers implements Tiers {
  readonly l1: L1 | undefined
  readonly #o: ResolvedOptions
  readonly #codec: Codec
  readonly #coherence: Coherence

  constructor(deps: { options: ResolvedOptions; codec: Codec; l1: L1 | undefined; coherence: Coherence }) {
    this.#o = deps.options
    this.#codec = deps.codec
    this.l1 = deps.l1
    this.#coherence = deps.coherence
  }

  lifetime(call: CallOptions, negative: boolean): Lifetime {
    return lifetimeOf(this.#o, call, negative)
  }

  encode(_key: string, value: unknown): Encoded {
    const { text, size } = encodeText(this.#o, this.#codec, value)
    // Without L1 nothing keeps the value: skip the decode.
    return { value: this.l1 === undefined ? value : this.#codec.decode(text), data: text, size }
  }

  isFresh(entry: L1Entry): boolean {
    return Date.now() < entry.freshUntil && this.#coherence.tagsValid(entry, true) === true
  }

  read(): Promise<unknown> {
    // L1 is the only tier: past an entry that may not be served there is nothing.
    return Promise.resolve(undefined)
  }

  store(key: string, encoded: Encoded, lifetime: Lifetime, meta: { delta: number }): Promise<void> {
    this.storeLocal(key, encoded, lifetime, meta.delta)
    return Promise.resolve()
  }

  storeLocal(key: string, encoded: Encoded, lifetime: Lifetime, delta: number): void {
    this.l1?.set(
      key,
      entryOf(encoded, { ver: 0, created: Date.now(), lifetime, delta, epoch: this.#coherence.epoch }),
    )
  }

  delete(key: string): Promise<void> {
    this.l1?.delete(key)
    return Promise.resolve()
  }

  invalidateTags(tags: readonly string[]): Promise<void> {
    this.#coherence.noteTags(tags, Date.now())
    return Promise.resolve()
  }

  clear(): Promise<void> {
    this.l1?.clear()
    return Promise.resolve()
  }
}

/** A memory-only cache's misses: serve L1 within grace, else run the factory and keep its result in L1. */
export class MemoryMisses implements MissPath {
  readonly #runs: FactoryRuns

  constructor(runs: FactoryRuns) {
    this.#runs = runs
  }

  load<T>(
    key: string,
    factory: Factory<T>,
    call: CallOptions,
    local: L1Entry | undefined,
    marks: Marks,
  ): Promise<T> {
    return this.#runs.loadLocally(key, factory, call, local, marks)
  }

  async refresh<T>(key: string, entry: L1Entry, factory: Factory<T>, call: CallOptions): Promise<void> {
    await this.#runs.runLocally(key, factory, call, { value: entry.value as T }, {})
  }
}
