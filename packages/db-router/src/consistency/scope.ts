import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * The read-your-writes state of one unit of work (a request, a job): the highest commit LSN
 * this scope has seen. Reads in the scope go only to replicas that have replayed it.
 */
export class Scope {
  #lsn: bigint
  readonly #parent: Scope | undefined
  readonly #pending = new Set<Promise<void>>()
  /** The highest position this router captured from the primary for the scope (a token's is only claimed). */
  #captured: bigint
  #capturedAt = 0

  constructor(lsn: bigint, parent?: Scope) {
    this.#lsn = lsn
    this.#parent = parent
    this.#captured = parent?.captured ?? 0n
    this.#capturedAt = parent?.capturedAt ?? 0
  }

  /** The position every read must see; 0n when the scope has written nothing and got no token. */
  get lsn(): bigint {
    return this.#lsn
  }

  /** The highest position read from the primary after a write of this scope: known to exist. */
  get captured(): bigint {
    return this.#captured
  }

  /** When (`Date.now()`) {@link captured} was read. */
  get capturedAt(): number {
    return this.#capturedAt
  }

  /** Moves the scope (and the scopes it is nested in) forward to `lsn`, a position captured from the primary. */
  advance(lsn: bigint): void {
    if (lsn > this.#lsn) this.#lsn = lsn
    if (lsn > this.#captured) {
      this.#captured = lsn
      this.#capturedAt = Date.now()
    }
    this.#parent?.advance(lsn)
  }

  /**
   * Lowers a position that a token claimed beyond the primary's own to `lsn` (the primary's), here
   * and in the enclosing scopes that hold it: no replica could ever reach the claimed one.
   */
  clamp(lsn: bigint): void {
    if (this.#lsn > lsn) this.#lsn = lsn > this.#captured ? lsn : this.#captured
    this.#parent?.clamp(lsn)
  }

  /** Tracks a capture that has not finished yet (a session released in the scope), so reads wait for it. */
  track(capture: Promise<void>): void {
    const done: Promise<void> = capture.catch(() => undefined).finally(() => this.#pending.delete(done))
    this.#pending.add(done)
    this.#parent?.track(done)
  }

  /** Resolves once every tracked capture has settled. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
  }

  /** True when captures are pending. */
  get busy(): boolean {
    return this.#pending.size > 0
  }
}

/** The async-local storage of a router's scopes (one per router: LSNs of two clusters never mix). */
export function createScopeStorage(): AsyncLocalStorage<Scope> {
  return new AsyncLocalStorage<Scope>()
}
