import type { JWTPayload } from 'jose'
import { sha256 } from '../internal/sha256'

interface Entry {
  readonly payload: JWTPayload
  readonly expiresAt: number
  /** What the token was verified as (kind and, for service tokens, the audience): a hit must match. */
  readonly scope: string
}

/**
 * Verified tokens, keyed by a SHA-256 of the token (never the token itself), so a client's repeated
 * token costs a hash and a lookup instead of a signature check. An entry answers only for the rules
 * it was verified by (its `scope`) and lives no longer than its token's `exp`; the whole cache is
 * dropped when the keys or the revocations change, and revocation is checked on every hit anyway,
 * so the revocation delay is the same with or without it. Bounded: the oldest entry goes first.
 */
export class VerifiedCache {
  readonly #max: number
  readonly #entries = new Map<string, Entry>()
  #generation = 0

  constructor(max: number) {
    this.#max = max
  }

  get size(): number {
    return this.#entries.size
  }

  /**
   * Bumped by every {@link clear}: a verification that started before a clear (a key rotation, a
   * revocation) must not put its result back afterwards, so `set` takes the generation it began in.
   */
  get generation(): number {
    return this.#generation
  }

  static keyOf(token: string): string {
    return sha256(token)
  }

  get(key: string, scope: string): JWTPayload | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined || entry.scope !== scope) return undefined
    if (entry.expiresAt <= Date.now()) {
      this.#entries.delete(key)
      return undefined
    }
    return entry.payload
  }

  set(key: string, scope: string, payload: JWTPayload, generation: number): void {
    if (this.#max === 0 || typeof payload.exp !== 'number' || generation !== this.#generation) return
    if (this.#entries.size >= this.#max && !this.#entries.has(key)) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
    this.#entries.set(key, { payload, expiresAt: payload.exp * 1000, scope })
  }

  clear(): void {
    this.#generation++
    this.#entries.clear()
  }
}
