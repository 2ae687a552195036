import CircuitBreaker from 'opossum'
import { type BreakerStateEvent, channels } from '../channels'
import { CacheUnavailableError } from '../errors'
import type { ResolvedOptions } from '../options'
import { isCluster, type RedisClient } from './redis-client'
import {
  deleteScript,
  invalidateTagsScript,
  readScript,
  releaseLockScript,
  renewLockScript,
  writeScript,
} from './scripts'

/** An entry as stored in Redis; times are Redis's clock (ms). */
export interface StoredEntry {
  /** The encoded (maybe encrypted) value. */
  data: string
  ver: number
  created: number
  expiresAt: number
  staleUntil: number
  tags: readonly string[]
  /** How long the factory took (ms), for early refresh. */
  delta: number
}

/** What a read found: the entry (if any), the current version ('0' = absent) and the lock state. */
export interface ReadResult {
  /** Redis's clock at the read, to turn stored times into local ones. */
  now: number
  entry: StoredEntry | undefined
  /** Version of whatever is stored, tombstones included; 0 when absent. */
  ver: number
  locked: boolean
  /** ms left on another holder's lock; -2 when there is no lock or none was asked for. */
  lockTtl: number
}

/** What to write. */
export interface WriteInput {
  data: string
  ttl: number
  grace: number
  tags: readonly string[]
  delta: number
  /** Write only if the stored version still equals this (0 = absent). */
  expectedVer?: number
  /** Redis time the refresh started (for tag checks); default: now. */
  created?: number
  /** Release this lock token in the same step. */
  lockToken?: string
}

type Reply = (string | number | null)[]

/**
 * The Redis tier: one method per cache operation, each one round trip, each bounded by
 * `timeout` and behind an opossum circuit breaker so that a dead Redis costs no caller more than
 * the timeout, and nothing at all while the breaker is open.
 */
export class RedisTier {
  readonly client: RedisClient
  readonly #prefix: string
  readonly #busChannel: string
  readonly #busPrefix: string
  readonly #options: ResolvedOptions
  readonly #breaker: CircuitBreaker<[() => Promise<unknown>]>
  #whenReady: Promise<void> | undefined

  constructor(client: RedisClient, options: ResolvedOptions, instanceId: string, onBreakerClose: () => void) {
    this.client = client
    this.#options = options
    this.#prefix = `sk:{${options.namespace}`
    this.#busChannel = options.bus ? `sk:{${options.namespace}}:bus` : ''
    this.#busPrefix = `${instanceId}|`
    this.#breaker = new CircuitBreaker((action: () => Promise<unknown>) => action(), {
      timeout: options.timeout,
      errorThresholdPercentage: options.breaker.errorThresholdPercentage,
      resetTimeout: options.breaker.resetTimeout,
      volumeThreshold: options.breaker.volumeThreshold,
      rollingCountTimeout: 10_000,
    })
    const publish = (state: BreakerStateEvent['state']): void => {
      if (channels.breaker.hasSubscribers) {
        channels.breaker.publish({ package: 'cache', namespace: options.namespace, state } satisfies BreakerStateEvent)
      }
    }
    this.#breaker.on('open', () => { publish('open') })
    this.#breaker.on('halfOpen', () => { publish('half-open') })
    this.#breaker.on('close', () => {
      publish('closed')
      onBreakerClose()
    })
  }

  /** Pub/sub channel of the invalidation bus ('' when the bus is off). */
  get busChannel(): string {
    return this.#busChannel
  }

  /** True while the breaker lets calls through. */
  get available(): boolean {
    return !this.#breaker.opened
  }

  entryKey(key: string): string {
    return `${this.#prefix}:${key}}`
  }

  lockKey(key: string): string {
    return `${this.#prefix}:${key}}:lock`
  }

  get tagsKey(): string {
    return `${this.#prefix}}:tags`
  }

  /** Runs one Redis call through the breaker; any failure becomes `CacheUnavailableError`. */
  async call<T>(action: () => Promise<T>): Promise<T> {
    try {
      const ready = this.#ready()
      const run = ready === undefined ? action : async (): Promise<T> => { await ready; return action() }
      return (await this.#breaker.fire(run)) as T
    } catch (error) {
      if (error instanceof CacheUnavailableError) throw error
      throw new CacheUnavailableError(`Redis did not answer: ${(error as Error).message}`, { cause: error })
    }
  }

  async read(key: string, lock?: { token: string; leaseMs: number }): Promise<ReadResult> {
    const reply = (await this.call(() =>
      readScript.run(this.client, [this.entryKey(key), this.lockKey(key)], [lock?.token ?? '', lock?.leaseMs ?? 0]),
    )) as Reply
    const [now, data, ver, created, exp, grace, tags, delta, tomb, locked, pttl] = reply
    const version = Number(ver ?? 0)
    const entry: StoredEntry | undefined = data === null || data === undefined || tomb !== null
      ? undefined
      : {
          data: String(data),
          ver: version,
          created: Number(created),
          expiresAt: Number(exp),
          staleUntil: Number(grace),
          tags: tags === null || tags === '' ? [] : (JSON.parse(String(tags)) as string[]),
          delta: Number(delta ?? 0),
        }
    return { now: Number(now), entry, ver: version, locked: locked === 1, lockTtl: Number(pttl) }
  }

  /** Writes (conditionally with `expectedVer`); returns whether it was written, and the version. */
  async write(key: string, input: WriteInput): Promise<{ written: boolean; ver: number; now: number }> {
    const reply = (await this.call(() =>
      writeScript.run(this.client, [this.entryKey(key), this.lockKey(key)], [
        input.data,
        input.ttl,
        input.grace,
        input.tags.length === 0 ? '' : JSON.stringify(input.tags),
        input.delta,
        input.expectedVer === undefined ? '' : input.expectedVer,
        input.created ?? '',
        input.lockToken ?? '',
        this.#busChannel,
        `${this.#busPrefix}s|`,
        key,
      ]),
    )) as number[]
    return { written: reply[0] === 1, ver: Number(reply[1]), now: Number(reply[2]) }
  }

  /** Replaces the entry by a tombstone that outlives any refresh in flight. */
  async delete(key: string): Promise<number> {
    const tombstoneMs = Math.max(this.#options.lockLease * 3, 30_000)
    const reply = await this.call(() =>
      deleteScript.run(this.client, [this.entryKey(key)], [tombstoneMs, this.#busChannel, `${this.#busPrefix}d|`, key]),
    )
    return Number(reply)
  }

  /** Records the invalidation of tags; returns Redis's time of it. */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    const reply = await this.call(() =>
      invalidateTagsScript.run(this.client, [this.tagsKey], [this.#options.tagRetention, this.#busChannel, `${this.#busPrefix}t|`, ...tags]),
    )
    return Number(reply)
  }

  /** Invalidation times of tags (0 = never invalidated within the retention). */
  async tagTimes(tags: readonly string[]): Promise<number[]> {
    const reply = await this.call(() => this.client.zmscore(this.tagsKey, ...tags))
    return reply.map((score) => (score === null ? 0 : Number(score)))
  }

  /** Takes the key's lock if nobody holds it; false when someone does or Redis is away. */
  async tryLock(key: string, token: string): Promise<boolean> {
    try {
      return (await this.call(() => this.client.set(this.lockKey(key), token, 'PX', this.#options.lockLease, 'NX'))) === 'OK'
    } catch {
      return false
    }
  }

  async renewLock(key: string, token: string): Promise<boolean> {
    const reply = await this.call(() => renewLockScript.run(this.client, [this.lockKey(key)], [token, this.#options.lockLease]))
    return reply === 1
  }

  async releaseLock(key: string, token: string): Promise<void> {
    await this.call(() => releaseLockScript.run(this.client, [this.lockKey(key)], [token]))
  }

  /** Deletes every key of the namespace (SCAN + UNLINK on each master) and announces it. */
  async clear(): Promise<void> {
    const nodes = isCluster(this.client) ? this.client.nodes('master') : [this.client]
    // Exactly this namespace's key shapes: `sk:{ns:<key>}…` (entries, locks, queues) and `sk:{ns}:…` (tags).
    const escaped = this.#prefix.replace(/[*?[\]\\]/g, '\\$&')
    for (const pattern of [`${escaped}:*`, `${escaped}}:*`]) {
      for (const node of nodes) {
        let cursor = '0'
        do {
          const [next, keys] = await this.call(() => node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000))
          cursor = next
          if (keys.length > 0) {
            const batch = node.pipeline()
            for (const k of keys) batch.unlink(k)
            await this.call(() => batch.exec())
          }
        } while (cursor !== '0')
      }
    }
    if (this.#busChannel !== '') await this.call(() => this.client.publish(this.#busChannel, `${this.#busPrefix}c|0|`))
  }

  shutdown(): void {
    this.#breaker.shutdown()
  }

  /**
   * Undefined when the client is ready; otherwise a promise of readiness, shared by every caller
   * meanwhile (the breaker's timeout bounds each wait). Connects a lazy client on first use.
   */
  #ready(): Promise<void> | undefined {
    const client = this.client
    if (client.status === 'ready') return undefined
    if (client.status === 'wait') {
      this.#whenReady ??= client.connect().finally(() => { this.#whenReady = undefined })
      return this.#whenReady
    }
    this.#whenReady ??= new Promise<void>((resolve) => {
      client.once('ready', () => {
        this.#whenReady = undefined
        resolve()
      })
    })
    return this.#whenReady
  }
}
