import { channels, publish } from '../channels'
import type { RevokeEvent } from '../channels'
import type { RevokedReason } from '../errors'
import { memberOf, RevocationList, targetOf } from './revocation-list'
import type { Revocations } from './revocation-list'

/**
 * Revocations in this process's memory (no Redis): enforced at once here, unknown to any other
 * instance, forgotten on restart. Entries whose tokens expired are dropped when the list has doubled.
 */
export class MemoryRevocations implements Revocations {
  readonly synced = true
  readonly subscribed = true
  readonly #list = new RevocationList()
  readonly #epochKeepMs: number
  readonly #onChange: () => void
  #pruneAt = 1024

  constructor(epochKeepMs: number, onChange: () => void) {
    this.#epochKeepMs = epochKeepMs
    this.#onChange = onChange
  }

  start(): void {}

  check(jti: unknown, family: unknown, sub: unknown, iat: unknown): RevokedReason | undefined {
    return this.#list.check(jti, family, sub, iat)
  }

  epochKnown(sub: string): number | undefined {
    return this.#list.epoch(sub)
  }

  epochOf(sub: string): Promise<number | undefined> {
    return Promise.resolve(this.#list.epoch(sub))
  }

  revoke(kind: 'token' | 'family' | 'user', id: string, until: number): Promise<void> {
    const [code, member] = memberOf(kind, id)
    if (this.#list.add(code, member, until)) this.#onChange()
    publish(channels.revoke, (): RevokeEvent => ({ target: targetOf(code, member), source: 'local' }))
    if (this.#list.size >= this.#pruneAt) {
      this.#list.prune(Date.now(), this.#epochKeepMs)
      this.#pruneAt = Math.max(1024, this.#list.size * 2)
    }
    return Promise.resolve()
  }

  sync(): Promise<void> {
    return Promise.resolve()
  }

  stop(): Promise<void> {
    return Promise.resolve()
  }
}
