import { LRUCache } from 'lru-cache'
import type { BusMessage } from './bus'
import type { L1 } from './l1'
import type { L1Entry } from './l1'

/**
 * What an instance knows about changes made elsewhere: the bus epoch, tag invalidation times,
 * callers waiting for a key's value to land, and keys that must be deleted from Redis once it
 * answers again. The rule it enforces: an L1 entry is served as fresh only if no invalidation can
 * have been missed since it was verified.
 */
export class Coherence {
  readonly #l1: L1 | undefined
  readonly #instanceId: string
  /** True when another instance may change entries behind our back (Redis is on and the bus is in use). */
  readonly #shared: boolean
  /** Bumped whenever the bus may have missed a message; L1 entries of an older epoch are re-checked. */
  #epoch = 1
  #busConnected = false
  readonly #tagTimes = new LRUCache<string, number>({ max: 100_000 })
  readonly #waiters = new Map<string, Set<() => void>>()
  readonly #dirty = new Set<string>()

  constructor(options: { l1: L1 | undefined; instanceId: string; shared: boolean }) {
    this.#l1 = options.l1
    this.#instanceId = options.instanceId
    this.#shared = options.shared
  }

  get epoch(): number {
    return this.#epoch
  }

  /** May this L1 entry be served as fresh? */
  trusted(entry: L1Entry): boolean {
    return !this.#shared || (this.#busConnected && entry.epoch === this.#epoch)
  }

  /** true: no tag was invalidated after the entry; false: one was; undefined: a tag's time is unknown here. */
  tagsValid(entry: L1Entry, authoritative: boolean): boolean | undefined {
    if (entry.tags.length === 0) return true
    let known = true
    for (const tag of entry.tags) {
      const at = this.#tagTimes.get(tag)
      if (at === undefined) known = false
      else if (at >= entry.created) return false
    }
    return known || authoritative ? true : undefined
  }

  /** Records tag invalidation times (ours, or heard on the bus). */
  noteTags(tags: readonly string[], at: number): void {
    for (const tag of tags) this.#tagTimes.set(tag, Math.max(at, this.#tagTimes.get(tag) ?? 0))
  }

  /** Remembers tag times read from Redis, only while the bus keeps them current. */
  learnTags(tags: readonly string[], times: readonly number[]): void {
    if (this.#busConnected) tags.forEach((tag, i) => this.#tagTimes.set(tag, times[i] ?? 0))
  }

  onBusMessage(message: BusMessage): void {
    if (message.kind === 'tags') {
      this.noteTags(message.tags, message.ver)
      return
    }
    if (message.kind === 'clear') {
      if (message.from !== this.#instanceId) this.#l1?.clear()
      return
    }
    const local = this.#l1?.get(message.key)
    if (local !== undefined && local.ver !== message.ver) this.#l1?.delete(message.key)
    this.wake(message.key)
  }

  /** Whatever was published while we were away is lost: distrust every L1 entry made before now. */
  onBusConnection(connected: boolean): void {
    this.#busConnected = connected
    this.#epoch++
    if (!connected) this.#tagTimes.clear()
  }

  /** Redis answers again: re-check L1 against it. Returns the keys to delete there. */
  onRedisBack(): string[] {
    this.#epoch++
    const keys = [...this.#dirty]
    this.#dirty.clear()
    return keys
  }

  markDirty(key: string): void {
    this.#dirty.add(key)
  }

  /** Waits until the key's value lands (a bus message or our own write) or `ms` passes. */
  waitForKey(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(key)
      if (waiters === undefined) {
        waiters = new Set()
        this.#waiters.set(key, waiters)
      }
      const set = waiters
      const wake = (): void => {
        clearTimeout(timer)
        set.delete(wake)
        if (set.size === 0 && this.#waiters.get(key) === set) this.#waiters.delete(key)
        resolve()
      }
      const timer = setTimeout(wake, Math.max(1, ms))
      set.add(wake)
    })
  }

  wake(key: string): void {
    const set = this.#waiters.get(key)
    if (set !== undefined) for (const wake of [...set]) wake()
  }
}
