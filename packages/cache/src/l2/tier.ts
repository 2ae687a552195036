import type { ResolvedOptions } from '../options'
import { busChannel, clearPatterns, clearedByClear, entryKey, lockKey, tagsKey } from '../internal/redis-keys'
import { isCluster, type RedisClient } from './client'
import { asciiJson, parseEntry, type ReadResult, type WriteInput } from './entry'
import type { Remote } from './remote'
import {
  deleteScript,
  invalidateTagsScript,
  readScript,
  releaseLockScript,
  renewLockScript,
  writeScript,
} from './scripts'

/**
 * Tags per invalidation script: Lua's `unpack` (which builds the bus message) fails past ~8 000
 * values, and a smaller script keeps Redis responsive to other clients while it runs.
 */
export const TAGS_PER_SCRIPT = 1000

/**
 * The Redis tier: one method per cache operation, each one round trip through the cache's
 * {@link Remote} (bounded by `timeout`, behind the circuit breaker), so that a dead Redis costs no
 * caller more than the timeout, and nothing at all while the breaker is open.
 */
export class RedisTier {
  readonly client: RedisClient
  readonly remote: Remote
  readonly #namespace: string
  readonly #busChannel: string
  readonly #busPrefix: string
  readonly #options: ResolvedOptions
  readonly #cluster: boolean
  #batch: { key: string; resolve: (result: ReadResult) => void; reject: (error: unknown) => void }[] = []
  /** Redis's clock minus ours (ms), learned from replies; undefined until the first one. */
  #clockOffset: number | undefined
  #clockRtt = Number.POSITIVE_INFINITY
  #clockAt = 0
  #clockSync: Promise<number> | undefined

  constructor(remote: Remote, options: ResolvedOptions, instanceId: string) {
    this.remote = remote
    this.client = remote.client
    this.#cluster = isCluster(remote.client)
    this.#options = options
    this.#namespace = options.namespace
    this.#busChannel = options.bus ? busChannel(options.namespace) : ''
    this.#busPrefix = `${instanceId}|`
  }

  /** Pub/sub channel of the invalidation bus ('' when the bus is off). */
  get busChannel(): string {
    return this.#busChannel
  }

  entryKey(key: string): string {
    return entryKey(this.#namespace, key)
  }

  lockKey(key: string): string {
    return lockKey(this.#namespace, key)
  }

  get tagsKey(): string {
    return tagsKey(this.#namespace)
  }

  /** Runs one Redis call through the breaker, bounded by the timeout; any failure becomes `CacheUnavailableError`. */
  call<T>(action: () => Promise<T>): Promise<T> {
    return this.remote.call(action)
  }

  /**
   * The hit path: one plain HMGET, no script and no lock. Stored times are Redis's clock; `now` is
   * estimated from the offset learned from earlier replies (see {@link RedisTier.read}).
   */
  peek(key: string): Promise<ReadResult> {
    const offset = this.#clockOffset
    if (offset === undefined) return this.#syncClock().then(() => this.peek(key))
    if (this.#cluster) {
      const entryKey = this.entryKey(key)
      return this.call(() => this.client.get(entryKey)).then((raw) =>
        parseEntry(Date.now() + offset, raw, false, -2),
      )
    }
    return new Promise<ReadResult>((resolve, reject) => {
      this.#batch.push({ key: this.entryKey(key), resolve, reject })
      if (this.#batch.length === 1)
        queueMicrotask(() => {
          this.#flushPeeks()
        })
    })
  }

  /**
   * Sends every read queued in this tick as one MGET (at most 256 keys each): under concurrency a
   * hit costs a fraction of a command, one breaker call and one deadline, instead of one each.
   */
  #flushPeeks(): void {
    const batch = this.#batch
    this.#batch = []
    for (let start = 0; start < batch.length; start += 256) {
      const part = batch.slice(start, start + 256)
      const keys = part.map((p) => p.key)
      this.call(() => this.client.mget(keys)).then(
        (raws) => {
          const now = Date.now() + (this.#clockOffset ?? 0)
          part.forEach((p, i) => {
            p.resolve(parseEntry(now, raws[i], false, -2))
          })
        },
        (error: unknown) => {
          for (const p of part) p.reject(error)
        },
      )
    }
  }

  /**
   * Reads an entry in a script that also takes the key's lock when the entry is missing or
   * expired (the miss path: one round trip for both), and reports Redis's clock.
   */
  async read(key: string, lock?: { token: string; leaseMs: number }): Promise<ReadResult> {
    const sentAt = Date.now()
    const reply = (await this.call(() =>
      readScript.run(
        this.client,
        [this.entryKey(key), this.lockKey(key)],
        [lock?.token ?? '', lock?.leaseMs ?? 0],
      ),
    )) as [number, string | null, number, number]
    const now = reply[0]
    this.#learnClock(now, sentAt)
    return parseEntry(now, reply[1], reply[2] === 1, reply[3])
  }

  /** Writes (conditionally with `expectedVer`); returns whether it was written, and the version. */
  async write(key: string, input: WriteInput): Promise<{ written: boolean; ver: number; now: number }> {
    const sentAt = Date.now()
    const reply = (await this.call(() =>
      writeScript.run(
        this.client,
        [this.entryKey(key), this.lockKey(key)],
        [
          input.data,
          input.ttl,
          input.grace,
          input.tags.length === 0 ? '' : asciiJson(input.tags),
          Math.round(input.delta),
          input.expectedVer === undefined ? '' : input.expectedVer,
          input.created ?? '',
          input.lockToken ?? '',
          this.#busChannel,
          `${this.#busPrefix}s|`,
          key,
        ],
      ),
    )) as number[]
    const now = Number(reply[2])
    this.#learnClock(now, sentAt)
    return { written: reply[0] === 1, ver: Number(reply[1]), now }
  }

  /** Replaces the entry by a tombstone that outlives any refresh in flight. */
  async delete(key: string): Promise<number> {
    const tombstoneMs = Math.max(this.#options.lockLease * 3, 30_000)
    const reply = await this.call(() =>
      deleteScript.run(
        this.client,
        [this.entryKey(key)],
        [tombstoneMs, this.#busChannel, `${this.#busPrefix}d|`, key],
      ),
    )
    return Number(reply)
  }

  /**
   * Records the invalidation of at most {@link TAGS_PER_SCRIPT} tags and announces them, in one
   * script (applied ⇒ announced); returns Redis's time of it.
   */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    const reply = await this.call(() =>
      invalidateTagsScript.run(
        this.client,
        [this.tagsKey],
        [this.#options.tagRetention, this.#busChannel, `${this.#busPrefix}t|`, ...tags],
      ),
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
      return (
        (await this.call(() =>
          this.client.set(this.lockKey(key), token, 'PX', this.#options.lockLease, 'NX'),
        )) === 'OK'
      )
    } catch {
      return false
    }
  }

  async renewLock(key: string, token: string): Promise<boolean> {
    const reply = await this.call(() =>
      renewLockScript.run(this.client, [this.lockKey(key)], [token, this.#options.lockLease]),
    )
    return reply === 1
  }

  async releaseLock(key: string, token: string): Promise<void> {
    await this.call(() => releaseLockScript.run(this.client, [this.lockKey(key)], [token]))
  }

  /**
   * Deletes the cache's own keys of the namespace — entries, locks, tags (SCAN + UNLINK on each
   * master) — and announces it. Write-behind queues under the namespace are kept (see `redis-keys`).
   */
  async clear(): Promise<void> {
    const nodes = this.#cluster && isCluster(this.client) ? this.client.nodes('master') : [this.client]
    const namespace = this.#namespace
    for (const pattern of clearPatterns(namespace)) {
      for (const node of nodes) {
        let cursor = '0'
        do {
          const [next, keys] = await this.call(() => node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000))
          cursor = next
          const owned = keys.filter((k) => clearedByClear(namespace, k))
          if (owned.length > 0) {
            const batch = node.pipeline()
            for (const k of owned) batch.unlink(k)
            await this.call(() => batch.exec())
          }
        } while (cursor !== '0')
      }
    }
    if (this.#busChannel !== '')
      await this.call(() => this.client.publish(this.#busChannel, `${this.#busPrefix}c|0|`))
  }

  /** Asks Redis for its time once, when no reply has told us yet: concurrent first reads share one TIME. */
  #syncClock(): Promise<number> {
    this.#clockSync ??= (async () => {
      try {
        const sentAt = Date.now()
        const [seconds, micros] = await this.call(() => this.client.time())
        this.#learnClock(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000), sentAt)
        return this.#clockOffset ?? 0
      } finally {
        this.#clockSync = undefined
      }
    })()
    return this.#clockSync
  }

  /**
   * Learns Redis's clock relative to ours from a reply stamped with it: the sample with the
   * shortest round trip in the last 30 s wins (its midpoint is the best estimate).
   */
  #learnClock(redisNow: number, sentAt: number): void {
    const receivedAt = Date.now()
    const rtt = receivedAt - sentAt
    if (this.#clockOffset === undefined || rtt <= this.#clockRtt || receivedAt - this.#clockAt > 30_000) {
      this.#clockOffset = redisNow - (sentAt + receivedAt) / 2
      this.#clockRtt = rtt
      this.#clockAt = receivedAt
    }
  }
}
