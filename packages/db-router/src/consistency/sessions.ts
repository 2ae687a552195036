import type { Pool, PoolClient } from 'pg'
import type { Scope } from './scope'

/**
 * The sessions `connect()` handed out inside a consistency scope. When one goes back to the pool
 * (pg-pool's `release` event: the session is not changed, and neither is `release`), the primary's
 * position is taken for its scope — on another connection, after the session's last commit
 * returned, so at or past it — and reads of the scope wait for it.
 */
export class SessionCaptures {
  readonly #pool: Pool
  readonly #capture: () => Promise<bigint>
  readonly #scopes = new WeakMap<PoolClient, Scope>()
  #listening = false

  /** `capture` reads the primary's current WAL position. */
  constructor(pool: Pool, capture: () => Promise<bigint>) {
    this.#pool = pool
    this.#capture = capture
  }

  /** Captures the primary's position for `scope` when `client` is released without an error. */
  track(client: PoolClient, scope: Scope): void {
    if (!this.#listening) {
      this.#listening = true
      this.#pool.on('release', this.#released)
    }
    this.#scopes.set(client, scope)
  }

  /** Stops listening to the pool (it may be the app's, which outlives the router). */
  close(): void {
    if (this.#listening) this.#pool.off('release', this.#released)
    this.#listening = false
  }

  readonly #released = (error: Error | boolean | undefined, client: PoolClient): void => {
    const scope = this.#scopes.get(client)
    if (scope === undefined) return
    this.#scopes.delete(client)
    // Released as broken: what it wrote is unknown, as with any failed write.
    if (error !== undefined && error !== false) return
    scope.track(
      this.#capture().then((lsn) => {
        scope.advance(lsn)
      }),
    )
  }
}
