import type { FamilyStore, Rotation, Successor } from './families'

interface Family {
  cur: Successor
  prev: string | undefined
  prevAt: number
  revoked: boolean
  expiresAt: number
}

/**
 * Refresh families in this process's memory: the same rotation, grace and reuse answers as the
 * Redis script, for an app without Redis. One process only: another instance does not know these
 * families (it refuses their refresh tokens), and a restart forgets them (every refresh token is
 * refused, users log in again). Expired families are dropped when the map has doubled.
 */
export class MemoryFamilies implements FamilyStore {
  readonly #families = new Map<string, Family>()
  #sweepAt = 1024

  start(family: string, _sub: string, first: Successor, ttlMs: number, now: number): Promise<void> {
    this.#families.set(family, {
      cur: first,
      prev: undefined,
      prevAt: 0,
      revoked: false,
      expiresAt: now + ttlMs,
    })
    if (this.#families.size >= this.#sweepAt) {
      for (const [id, f] of this.#families) if (f.expiresAt <= now) this.#families.delete(id)
      this.#sweepAt = Math.max(1024, this.#families.size * 2)
    }
    return Promise.resolve()
  }

  rotate(
    family: string,
    presented: string,
    next: Successor,
    graceMs: number,
    ttlMs: number,
    now: number,
  ): Promise<Rotation> {
    return Promise.resolve(this.#rotate(family, presented, next, graceMs, ttlMs, now))
  }

  end(family: string): Promise<void> {
    const f = this.#families.get(family)
    if (f !== undefined) f.revoked = true
    return Promise.resolve()
  }

  #rotate(
    family: string,
    presented: string,
    next: Successor,
    graceMs: number,
    ttlMs: number,
    now: number,
  ): Rotation {
    const f = this.#families.get(family)
    if (f === undefined || f.expiresAt <= now) {
      this.#families.delete(family)
      return { outcome: 'unknown' }
    }
    if (f.revoked) return { outcome: 'revoked' }
    if (f.cur.jti === presented) {
      f.prev = presented
      f.prevAt = now
      f.cur = next
      f.expiresAt = now + ttlMs
      return { outcome: 'rotated' }
    }
    if (f.prev === presented && now - f.prevAt < graceMs) return { outcome: 'grace', ...f.cur }
    f.revoked = true
    return { outcome: 'reused', retiredForMs: f.prev === presented ? now - f.prevAt : undefined }
  }
}
