import { createHash } from 'node:crypto'
import type { JWTPayload } from 'jose'

/**
 * Verified tokens, keyed by a SHA-256 of the token (never the token itself), so a client's repeated
 * token costs a hash and a lookup instead of a signature check. An entry lives no longer than its
 * token's `exp`; the whole cache is dropped when the keys or the revocations change, and revocation
 * is checked on every hit anyway, so the revocation delay is the same with or without it. Bounded:
 * the oldest entry goes first.
 */
export class VerifiedCache {
  readonly #max: number
  readonly #entries = new Map<string, { readonly payload: JWTPayload; readonly expiresAt: number }>()

  constructor(max: number) {
    this.#max = max
  }

  get size(): number {
    return this.#entries.size
  }

  static keyOf(kind: string, token: string): string {
    return createHash('sha256').update(kind).update('\0').update(token).digest('base64url')
  }

  get(key: string): JWTPayload | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= Date.now()) {
      this.#entries.delete(key)
      return undefined
    }
    return entry.payload
  }

  set(key: string, payload: JWTPayload): void {
    if (this.#max === 0 || typeof payload.exp !== 'number') return
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
    this.#entries.set(key, { payload, expiresAt: payload.exp * 1000 })
  }

  clear(): void {
    this.#entries.clear()
  }
}
