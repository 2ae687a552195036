import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * The read-your-writes state of one unit of work (a request, a job): the highest commit LSN
 * this scope has seen. Reads in the scope go only to replicas that have replayed it.
 */
export class Scope {
  #lsn: bigint
  readonly #parent: Scope | undefined
  readonly #pending = new Set<Promise<void>>()

  constructor(lsn: bigint, parent?: Scope) {
    this.#lsn = lsn
    this.#parent = parent
  }

  /** The position every read must see; 0n when the scope has written nothing and got no token. */
  get lsn(): bigint {
    return this.#lsn
  }

  /** Moves the scope (and the scopes it is nested in) forward to `lsn`. */
  advance(lsn: bigint): void {
    if (lsn > this.#lsn) this.#lsn = lsn
    this.#parent?.advance(lsn)
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
