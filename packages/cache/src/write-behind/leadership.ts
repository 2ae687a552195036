import { asError } from '../internal/error-text'
import type { Remote } from '../l2/remote'

/** Who may flush: in Redis mode one instance at a time, so writes reach the store in stream order. */
export interface Leadership {
  /** Tries to become (or stay) the leader; resolves true when this instance leads. */
  acquire(): Promise<boolean>
  /** True while the lease is known to be ours. */
  held(): boolean
  /** Gives the lease up (only if still ours). */
  release(): Promise<void>
}

/** Memory mode: the process is the only instance. */
export const soleLeader: Leadership = {
  acquire: () => Promise.resolve(true),
  held: () => true,
  release: () => Promise.resolve(),
}

/** SET NX PX, or extend the lease when it is already ours (our earlier acquire timed out but landed). */
const ACQUIRE = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`
/** Compare-and-pexpire: extends only our own lease. */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`
/** Compare-and-delete: never deletes a successor's lease. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

/** Where the lease lives and how long it lasts. */
export interface RedisLeaseConfig {
  /** The cache's connection: every call bounded by its timeout, behind its breaker. */
  readonly remote: Remote
  readonly key: string
  /** Unique to this instance. */
  readonly token: string
  readonly leaseMs: number
  readonly report: (error: Error) => void
}

/**
 * A leader lease in Redis, renewed every third of its length. Validity is counted locally from
 * when each acquire or renew was SENT, so this instance stops believing it leads no later than
 * Redis lets the key expire, even when renewals fail.
 */
export class RedisLease implements Leadership {
  readonly #config: RedisLeaseConfig
  #validUntil = 0
  /** Bumped by release(): a renewal answered after it must not revive the lease. */
  #epoch = 0
  #timer: NodeJS.Timeout | undefined

  constructor(config: RedisLeaseConfig) {
    this.#config = config
  }

  held(): boolean {
    return Date.now() < this.#validUntil
  }

  async acquire(): Promise<boolean> {
    const ok = await this.#run(ACQUIRE)
    if (ok) this.#schedule()
    return ok
  }

  async release(): Promise<void> {
    this.#epoch += 1
    clearTimeout(this.#timer)
    const mayHold = this.#validUntil > 0
    this.#validUntil = 0
    if (!mayHold) return
    const { remote, key, token } = this.#config
    await remote.call(() => remote.client.eval(RELEASE, 1, key, token))
  }

  /** Runs an acquire or renew script; on 1 the lease is ours until `sentAt + leaseMs`, on 0 it is not. */
  async #run(script: string): Promise<boolean> {
    const { remote, key, token, leaseMs } = this.#config
    const epoch = this.#epoch
    const sentAt = Date.now()
    const reply = await remote.call(() => remote.client.eval(script, 1, key, token, String(leaseMs)))
    if (epoch !== this.#epoch) return false
    this.#validUntil = reply === 1 ? sentAt + leaseMs : 0
    return reply === 1
  }

  #schedule(): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => void this.#renew(), Math.max(1, Math.floor(this.#config.leaseMs / 3)))
    this.#timer.unref()
  }

  async #renew(): Promise<void> {
    try {
      // Lost (another instance leads now) or released meanwhile: stop renewing.
      if (!(await this.#run(RENEW))) return
    } catch (error) {
      // Still ours until #validUntil: keep trying until then.
      this.#config.report(asError(error))
    }
    if (this.held()) this.#schedule()
  }
}
