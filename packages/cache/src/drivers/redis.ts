import CircuitBreaker from 'opossum'
import { type BreakerStateEvent, channels } from '../channels'
import { CacheUnavailableError } from '../errors'
import { Deadlines } from '../internal/deadlines'
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


/**
 * Parses an entry string (`ver|created|expiresAt|staleUntil|delta|tombstone|tagsLength|tags value`,
 * see scripts.ts). A malformed header reads as absent (version 0), so the next write replaces it.
 */
export function parseEntry(now: number, raw: string | null | undefined, locked: boolean, lockTtl: number): ReadResult {
  const absent: ReadResult = { now, entry: undefined, ver: 0, locked, lockTtl }
  if (raw === null || raw === undefined) return absent
  const header: number[] = []
  let pos = 0
  for (let i = 0; i < 7; i++) {
    const bar = raw.indexOf('|', pos)
    const field = bar < 0 ? Number.NaN : Number(raw.slice(pos, bar))
    if (!Number.isSafeInteger(field)) return absent
    header.push(field)
    pos = bar + 1
  }
  const [ver = 0, created = 0, expiresAt = 0, staleUntil = 0, delta = 0, tombstone = 0, tagsLength = 0] = header
  if (tombstone !== 0) return { now, entry: undefined, ver, locked, lockTtl }
  let tags: string[] = []
  if (tagsLength > 0) {
    try {
      tags = JSON.parse(raw.slice(pos, pos + tagsLength)) as string[]
    } catch {
      return { now, entry: undefined, ver, locked, lockTtl }
    }
  }
  return { now, entry: { data: raw.slice(pos + tagsLength), ver, created, expiresAt, staleUntil, tags, delta }, ver, locked, lockTtl }
}

/** {@link RedisTier} `#ready()`'s answer when the client lost its connection and is reconnecting. */
const RECONNECTING = Symbol('reconnecting')

function unavailable(error: unknown): never {
  if (error instanceof CacheUnavailableError) throw error
  throw new CacheUnavailableError(`Redis did not answer: ${(error as Error).message}`, { cause: error })
}

/** Tags as JSON with every non-ASCII character escaped, so Lua's byte length equals the string length. */
function asciiJson(tags: readonly string[]): string {
  return JSON.stringify(tags).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

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
  /** Whether the client has been ready once: after that, not ready means an outage, not a first connect. */
  #wasReady = false
  readonly #onReady = (): void => { this.#wasReady = true }
  readonly #cluster: boolean
  #batch: { key: string; resolve: (result: ReadResult) => void; reject: (error: unknown) => void }[] = []
  /** Redis's clock minus ours (ms), learned from replies; undefined until the first one. */
  #clockOffset: number | undefined
  #clockRtt = Number.POSITIVE_INFINITY
  #clockAt = 0

  constructor(client: RedisClient, options: ResolvedOptions, instanceId: string, onBreakerClose: () => void) {
    this.client = client
    this.#cluster = isCluster(client)
    this.#wasReady = client.status === 'ready'
    client.on('ready', this.#onReady)
    this.#options = options
    this.#prefix = `sk:{${options.namespace}`
    this.#busChannel = options.bus ? `sk:{${options.namespace}}:bus` : ''
    this.#busPrefix = `${instanceId}|`
    const deadlines = new Deadlines(options.timeout, (ms) => new CacheUnavailableError(`Redis did not answer within ${ms} ms`))
    // The breaker counts failures and opens; the timeout is enforced by one shared sweeping timer.
    this.#breaker = new CircuitBreaker((action: () => Promise<unknown>) => deadlines.bound(action()), {
      timeout: false,
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
  call<T>(action: () => Promise<T>): Promise<T> {
    const ready = this.#ready()
    // Built only when the breaker runs it: an open breaker never calls the action, so nothing rejects unseen.
    const run = ready === undefined
      ? action
      : ready === RECONNECTING
        ? (): Promise<T> => Promise.reject(new CacheUnavailableError(`Redis is reconnecting (${this.client.status})`))
        : async (): Promise<T> => { await ready; return action() }
    return (this.#breaker.fire(run) as Promise<T>).catch(unavailable)
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
      return this.call(() => this.client.get(entryKey)).then((raw) => parseEntry(Date.now() + offset, raw, false, -2))
    }
    return new Promise<ReadResult>((resolve, reject) => {
      this.#batch.push({ key: this.entryKey(key), resolve, reject })
      if (this.#batch.length === 1) queueMicrotask(() => { this.#flushPeeks() })
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
          part.forEach((p, i) => { p.resolve(parseEntry(now, raws[i], false, -2)) })
        },
        (error: unknown) => { for (const p of part) p.reject(error) },
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
      readScript.run(this.client, [this.entryKey(key), this.lockKey(key)], [lock?.token ?? '', lock?.leaseMs ?? 0]),
    )) as [number, string | null, number, number]
    const now = reply[0]
    this.#learnClock(now, sentAt)
    return parseEntry(now, reply[1], reply[2] === 1, reply[3])
  }

  /** Writes (conditionally with `expectedVer`); returns whether it was written, and the version. */
  async write(key: string, input: WriteInput): Promise<{ written: boolean; ver: number; now: number }> {
    const sentAt = Date.now()
    const reply = (await this.call(() =>
      writeScript.run(this.client, [this.entryKey(key), this.lockKey(key)], [
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
      ]),
    )) as number[]
    const now = Number(reply[2])
    this.#learnClock(now, sentAt)
    return { written: reply[0] === 1, ver: Number(reply[1]), now }
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
    this.client.off('ready', this.#onReady)
  }

  /** Asks Redis for its time once, when no reply has told us yet. */
  async #syncClock(): Promise<number> {
    const sentAt = Date.now()
    const [seconds, micros] = await this.call(() => this.client.time())
    this.#learnClock(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000), sentAt)
    return this.#clockOffset ?? 0
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

  /**
   * Undefined when the client is ready. During the first connect, a promise of readiness shared by
   * every caller meanwhile (the breaker's timeout bounds each wait); connects a lazy client on first
   * use. Once the client has been ready, a client that is not is reconnecting after a failure:
   * callers fail at once instead of waiting out the timeout, so L1 keeps answering in microseconds.
   */
  #ready(): Promise<void> | typeof RECONNECTING | undefined {
    const client = this.client
    if (client.status === 'ready') return undefined
    if (client.status === 'wait') {
      if (this.#whenReady === undefined) {
        const connecting = client.connect().finally(() => { this.#whenReady = undefined })
        // Callers that await it see a failure; with none (breaker open) it must not be unhandled.
        connecting.catch(() => undefined)
        this.#whenReady = connecting
      }
      return this.#whenReady
    }
    if (this.#wasReady) return RECONNECTING
    this.#whenReady ??= new Promise<void>((resolve) => {
      client.once('ready', () => {
        this.#whenReady = undefined
        resolve()
      })
    })
    return this.#whenReady
  }
}
