import type { RevokedReason } from '../errors'

/** A revoked token id (`j:<jti>`) or family (`f:<family>`), or a user's epoch (`e`). */
export type RevocationCode = 'e' | 'm'

/**
 * One process's copy of the revocations: token ids and refresh families revoked until their
 * tokens expire (ms), and each user's "log out everywhere" time (ms). The Redis state keeps it in
 * step with every instance; the memory state is this copy alone.
 */
export class RevocationList {
  readonly #members = new Map<string, number>()
  readonly #epochs = new Map<string, number>()

  /** Entries held: what the memory state watches to prune. */
  get size(): number {
    return this.#members.size + this.#epochs.size
  }

  /** Why `claims` no longer count, or undefined. `iat` is in seconds (fractional: ms precision). */
  check(jti: unknown, family: unknown, sub: unknown, iat: unknown): RevokedReason | undefined {
    const now = Date.now()
    if (typeof jti === 'string' && (this.#members.get(`j:${jti}`) ?? 0) > now) return 'token'
    if (typeof family === 'string' && (this.#members.get(`f:${family}`) ?? 0) > now) return 'family'
    if (typeof sub === 'string' && typeof iat === 'number') {
      const epoch = this.#epochs.get(sub)
      if (epoch !== undefined && Math.round(iat * 1000) <= epoch) return 'user'
    }
    return undefined
  }

  /** The user's "log out everywhere" time (ms), if any. */
  epoch(sub: string): number | undefined {
    return this.#epochs.get(sub)
  }

  /** Records a revocation; false when it was known already (never lowers a time). */
  add(code: RevocationCode, member: string, score: number): boolean {
    const map = code === 'e' ? this.#epochs : this.#members
    if ((map.get(member) ?? -Infinity) >= score) return false
    map.set(member, score)
    return true
  }

  /** Drops what can no longer matter: members whose tokens expired, epochs older than any token. */
  prune(now: number, epochKeepMs: number): void {
    for (const [member, until] of this.#members) if (until <= now) this.#members.delete(member)
    const oldest = now - epochKeepMs
    for (const [sub, epoch] of this.#epochs) if (epoch < oldest) this.#epochs.delete(sub)
  }
}

/** The target a member names, for the revoke channel. */
export function targetOf(code: RevocationCode, member: string): 'user' | 'family' | 'token' {
  return code === 'e' ? 'user' : member.startsWith('f:') ? 'family' : 'token'
}

/** The list member of a revocation. */
export function memberOf(kind: 'token' | 'family' | 'user', id: string): [RevocationCode, string] {
  return kind === 'user' ? ['e', id] : ['m', kind === 'token' ? `j:${id}` : `f:${id}`]
}

/**
 * What the token service asks of its revocation state, in Redis (shared by every instance, pushed
 * over pub/sub) or in memory (this process only).
 */
export interface Revocations {
  /** Loaded at least once (always true in memory). */
  readonly synced: boolean
  /** Receiving pushes (always true in memory). */
  readonly subscribed: boolean
  /** Starts whatever keeps the state current. Idempotent. */
  start(): void
  /** Why a token no longer counts, or undefined; never waits on a server. */
  check(jti: unknown, family: unknown, sub: unknown, iat: unknown): RevokedReason | undefined
  /** The user's "log out everywhere" time as this instance knows it (ms). */
  epochKnown(sub: string): number | undefined
  /** The user's epoch as the shared state has it now (for refresh). */
  epochOf(sub: string): Promise<number | undefined>
  /** Revokes a token id or family until `until` (ms), or every token of a user issued before `until`. */
  revoke(kind: 'token' | 'family' | 'user', id: string, until: number): Promise<void>
  /** Reloads the shared state (or always with `force`); never throws. */
  sync(force: boolean): Promise<void>
  /** Releases what it opened. */
  stop(): Promise<void>
}
